/** Public API of the digital twin: `x0tta6bl4/twin`. */
export { runScenario, runSeed, buildTopology, randomPairs } from './runner.js';
export type { ProgressListener } from './runner.js';
export { parseScenario, loadScenario, applyOverrides, scenarioToYaml, ScenarioError } from './scenario.js';
export type { Scenario, FaultSpec, TopologySpec, LinkSpec, TrafficSpec } from './scenario.js';
export { buildReport, reportJson } from './report.js';
export type { TwinReport, SeedResult } from './report.js';
export { renderReportHtml } from './html.js';
export { Network, twinNodeId } from './network.js';
export type { NetworkConfig, NetworkObserver, SimEdge, SimNode } from './network.js';
export { Prng } from './prng.js';
export { EventQueue } from './event-queue.js';
export { line, ring, grid, randomGeometric, barabasiAlbert, fromEdgeList, TopologyError } from './topology.js';
export type { Topology } from './topology.js';
export type { Summary } from './stats.js';
export { generateDataset, topologyName } from './dataset.js';
export type { DatasetOptions } from './dataset.js';
export { TelemetryTap } from './telemetry-tap.js';
export { SimHost, HostFaults } from './sim-host.js';
