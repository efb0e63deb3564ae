"""PyTorch baseline for bench/cora.ts: the same 2-layer GraphSAGE-mean on Cora, full batch.

Run by bench/cora.ts as `python3 bench/cora-pytorch.py '<json settings>'`; prints one JSON
object (epochMsMedian, testAccuracyMean, torch) on stdout. Exits non-zero (with the reason on
stderr) when PyTorch cannot be imported, and the TypeScript bench then records null figures.

The model matches src/ml: h' = relu(x W_self + mean_{u in N(v)} x_u W_neigh + b), features
row-normalised (L1), sparse features and a sparse row-normalised adjacency, dropout on the
input features (settings.inputDropout) and on the hidden layer, Adam with weight_decay, one
thread. Time per epoch covers forward, loss, backward and the optimiser step over all nodes.
"""

import json
import statistics
import sys
import time

try:
    import torch
except ImportError as error:  # the bench reads the last line of stderr as the reason
    sys.stderr.write(f"PyTorch is not importable: {error}\n")
    sys.exit(3)


def read_cora(directory):
    labels, rows, cols = [], [], []
    with open(f"{directory}/nodes.tsv", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            node, label, active = line.rstrip("\n").split("\t")
            labels.append(int(label))
            for index in active.split():
                rows.append(int(node))
                cols.append(int(index))
    n = len(labels)
    f = max(cols) + 1
    src, dst = [], []
    with open(f"{directory}/edges.tsv", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            a, b = (int(x) for x in line.split("\t"))
            src += [a, b]
            dst += [b, a]
    with open(f"{directory}/split.json", encoding="utf-8") as handle:
        split = json.load(handle)
    x = torch.sparse_coo_tensor(torch.tensor([rows, cols]), torch.ones(len(rows)), (n, f)).coalesce()
    row_sums = torch.sparse.sum(x, dim=1).to_dense().clamp(min=1)
    x = torch.sparse_coo_tensor(x.indices(), x.values() / row_sums[x.indices()[0]], (n, f)).coalesce().to_sparse_csr()
    edges = torch.tensor([src, dst])
    degree = torch.bincount(edges[0], minlength=n).float().clamp(min=1)
    adjacency = torch.sparse_coo_tensor(edges, 1.0 / degree[edges[0]], (n, n)).coalesce().to_sparse_csr()
    index = {key: torch.tensor(value) for key, value in split.items()}
    return x, adjacency, torch.tensor(labels), index


class SageMean(torch.nn.Module):
    def __init__(self, inputs, hidden, outputs, dropout, input_dropout):
        super().__init__()
        self.self0 = torch.nn.Linear(inputs, hidden)
        self.neigh0 = torch.nn.Linear(inputs, hidden, bias=False)
        self.self1 = torch.nn.Linear(hidden, outputs)
        self.neigh1 = torch.nn.Linear(hidden, outputs, bias=False)
        self.dropout = dropout
        self.input_dropout = input_dropout
        for layer in (self.self0, self.neigh0, self.self1, self.neigh1):
            torch.nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                torch.nn.init.zeros_(layer.bias)

    def layer(self, h, adjacency, own, neighbour, sparse_input):
        if sparse_input:
            projected_self = torch.sparse.mm(h, own.weight.t()) + own.bias
            projected_neighbour = torch.sparse.mm(h, neighbour.weight.t())
        else:
            projected_self = own(h)
            projected_neighbour = neighbour(h)
        return projected_self + torch.sparse.mm(adjacency, projected_neighbour)

    def forward(self, x, adjacency):
        if self.training and self.input_dropout > 0:
            kept = torch.nn.functional.dropout(x.values(), self.input_dropout, True)
            x = torch.sparse_csr_tensor(x.crow_indices(), x.col_indices(), kept, x.shape)
        h = torch.relu(self.layer(x, adjacency, self.self0, self.neigh0, True))
        h = torch.nn.functional.dropout(h, self.dropout, self.training)
        return self.layer(h, adjacency, self.self1, self.neigh1, False)


def run_seed(data, settings, seed):
    x, adjacency, labels, split = data
    torch.manual_seed(seed)
    model = SageMean(x.shape[1], settings["hidden"], int(labels.max()) + 1, settings["dropout"], settings["inputDropout"])
    optimiser = torch.optim.Adam(model.parameters(), lr=settings["learningRate"], weight_decay=settings["weightDecay"])
    best_val, best_test, times = -1.0, 0.0, []
    for _ in range(settings["epochs"]):
        started = time.perf_counter()
        model.train()
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, adjacency)[split["train"]], labels[split["train"]])
        loss.backward()
        optimiser.step()
        times.append((time.perf_counter() - started) * 1000)
        model.eval()
        with torch.no_grad():
            predicted = model(x, adjacency).argmax(dim=1)
        val = (predicted[split["val"]] == labels[split["val"]]).float().mean().item()
        if val > best_val:
            best_val = val
            best_test = (predicted[split["test"]] == labels[split["test"]]).float().mean().item()
    return best_test, times[20:]


def main():
    settings = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    data = read_cora(settings["datasetDir"])
    accuracies, times = [], []
    for seed in settings["seeds"]:
        accuracy, seed_times = run_seed(data, settings, seed)
        accuracies.append(accuracy)
        times += seed_times
    print(json.dumps({"epochMsMedian": statistics.median(times), "testAccuracyMean": statistics.mean(accuracies), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
