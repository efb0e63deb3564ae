/**
 * Loader for the Cora citation graph as stored in datasets/cora: nodes.tsv ("node<TAB>label<TAB>
 * space-separated active feature indices", comment lines start with #), edges.tsv (undirected
 * "node<TAB>node") and split.json ({ train, val, test } node index arrays, the public Planetoid
 * split). Every malformed line is refused with file:line and what was wrong.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MlError, MlErrorCode } from './errors.js';
import { sparseFeatures, type SparseFeatures } from './features.js';
import { undirectedGraph, type CsrGraph } from './graph.js';
import { datasetFileBytesMax } from './limits.js';

/** Train, validation and test node indices. */
export interface Split {
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly test: Int32Array;
}

/** Cora as typed arrays: graph, binary bag-of-words features, a class per node, the split. */
export interface CoraDataset {
  readonly graph: CsrGraph;
  readonly features: SparseFeatures;
  readonly labels: Int32Array;
  readonly classCount: number;
  readonly split: Split;
}

const indexPattern = /^(0|[1-9][0-9]{0,9})$/;

function formatError(file: string, line: number, message: string): MlError {
  return new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}:${line}: ${message}`);
}

/** A non-negative integer below 2^31 written in plain decimal, or a format error naming `what`. */
function parseIndex(text: string, file: string, line: number, what: string): number {
  const value = indexPattern.test(text) ? Number(text) : Number.NaN;
  if (!(value < 2 ** 31)) throw formatError(file, line, `expected ${what} to be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

/** Data lines of a TSV text with their 1-based line numbers; blank lines and lines starting with # are skipped. */
function dataLines(text: string): { line: number; text: string }[] {
  const lines: { line: number; text: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() !== '' && !line.startsWith('#')) lines.push({ line: i + 1, text: line });
  });
  return lines;
}

/**
 * Parses nodes.tsv. Node ids must run 0, 1, 2, ... in order; feature indices must be distinct
 * and below `featureCount` (default: one more than the largest index in the file).
 */
export function parseCoraNodes(text: string, file: string, featureCount?: number): { features: SparseFeatures; labels: Int32Array; classCount: number } {
  const lines = dataLines(text);
  const labels = new Int32Array(lines.length);
  const offsets = new Int32Array(lines.length + 1);
  const indices: number[] = [];
  lines.forEach(({ line, text: content }, node) => {
    const fields = content.split('\t');
    if (fields.length !== 3) throw formatError(file, line, `expected 3 tab-separated fields (node, label, feature indices), got ${fields.length}`);
    const id = parseIndex(fields[0]!, file, line, 'the node id');
    if (id !== node) throw formatError(file, line, `expected node id ${node} (ids run 0, 1, 2, ... in order), got ${id}`);
    labels[node] = parseIndex(fields[1]!, file, line, 'the label');
    const active = fields[2]!.trim() === '' ? [] : fields[2]!.trim().split(/ +/).map((field) => parseIndex(field, file, line, 'a feature index'));
    active.sort((a, b) => a - b);
    active.forEach((index, i) => {
      if (i > 0 && index === active[i - 1]) throw formatError(file, line, `feature index ${index} appears twice`);
      if (featureCount !== undefined && index >= featureCount) throw formatError(file, line, `feature index ${index} is not below the feature count ${featureCount}`);
    });
    indices.push(...active);
    offsets[node + 1] = indices.length;
  });
  const columns = featureCount ?? indices.reduce((max, index) => Math.max(max, index + 1), 0);
  const values = new Float32Array(indices.length).fill(1);
  const features = sparseFeatures(lines.length, columns, offsets, Int32Array.from(indices), values);
  return { features, labels, classCount: labels.reduce((max, label) => Math.max(max, label + 1), 0) };
}

/** Parses edges.tsv into an undirected CSR graph over `nodeCount` nodes. */
export function parseCoraEdges(text: string, file: string, nodeCount: number): CsrGraph {
  const lines = dataLines(text);
  const ends = new Int32Array(2 * lines.length);
  lines.forEach(({ line, text: content }, i) => {
    const fields = content.split('\t');
    if (fields.length !== 2) throw formatError(file, line, `expected 2 tab-separated node ids, got ${fields.length} fields`);
    for (let end = 0; end < 2; end++) {
      const node = parseIndex(fields[end]!, file, line, 'a node id');
      if (node >= nodeCount) throw formatError(file, line, `node ${node} is not one of the ${nodeCount} nodes (0..${nodeCount - 1})`);
      ends[2 * i + end] = node;
    }
  });
  return undirectedGraph(nodeCount, ends);
}

/** Parses split.json: three disjoint arrays of node indices below `nodeCount`. */
export function parseCoraSplit(text: string, file: string, nodeCount: number): Split {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}: expected an object with train, val and test arrays`);
  }
  const owner = new Map<number, string>();
  const part = (key: 'train' | 'val' | 'test'): Int32Array => {
    const list = (parsed as Record<string, unknown>)[key];
    if (!Array.isArray(list)) throw new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}: expected "${key}" to be an array of node indices`);
    return Int32Array.from(list, (node: unknown, i) => {
      if (typeof node !== 'number' || !Number.isInteger(node) || node < 0 || node >= nodeCount) {
        throw new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}: ${key}[${i}] is ${JSON.stringify(node)}, expected a node index in 0..${nodeCount - 1}`);
      }
      const previous = owner.get(node);
      if (previous !== undefined) throw new MlError(MlErrorCode.ERR_DATASET_FORMAT, `${file}: node ${node} is in both ${previous} and ${key}`);
      owner.set(node, key);
      return node;
    });
  };
  return { train: part('train'), val: part('val'), test: part('test') };
}

/** Reads a dataset file of at most datasetFileBytesMax bytes as UTF-8. */
async function readText(path: string): Promise<string> {
  try {
    const size = (await stat(path)).size;
    if (size > datasetFileBytesMax) throw new MlError(MlErrorCode.ERR_ML_READ, `${path}: ${size} bytes exceed datasetFileBytesMax ${datasetFileBytesMax}`);
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof MlError) throw error;
    throw new MlError(MlErrorCode.ERR_ML_READ, `${path}: cannot read (${(error as Error).message})`);
  }
}

/** Loads Cora from `dir` (nodes.tsv, edges.tsv, split.json), checking every line. */
export async function loadCora(dir: string): Promise<CoraDataset> {
  const [nodesText, edgesText, splitText] = await Promise.all(['nodes.tsv', 'edges.tsv', 'split.json'].map((name) => readText(join(dir, name))));
  const { features, labels, classCount } = parseCoraNodes(nodesText!, join(dir, 'nodes.tsv'));
  const graph = parseCoraEdges(edgesText!, join(dir, 'edges.tsv'), features.rows);
  const split = parseCoraSplit(splitText!, join(dir, 'split.json'), features.rows);
  return { graph, features, labels, classCount, split };
}
