"""numpy baseline for bench/fl-aggregation.ts: the same aggregation rules on the same sizes.

Run by bench/fl-aggregation.ts as `python3 bench/fl-aggregation-numpy.py '<json settings>'`
(settings: sizes [[n, d], ...], repeats, beta, f, m, tau, iterations, bound); prints one JSON
object on stdout: {"numpy": version, "python": version, "ms": {"<rule>_<n>x<d>": mean ms}}.
Exits non-zero (with the reason on stderr) when numpy cannot be imported.

Each rule is written the way numpy users write it: np.average with weights, np.median(axis=0),
np.sort(axis=0) for the trimmed mean, and Krum from the pairwise squared distances of the
upper triangle (one subtraction and one np.dot per pair). Updates are float32, as ours; numpy
accumulates float32 sums pairwise. Every rule runs `warmups` times, then at least `samplesMin`
times and until `sampleMsMin` have passed (at most `samplesMax`); the figure is the median run
(time.perf_counter), as in bench/fl-aggregation.ts. Data: standard normal, seeded, generated
outside the timed region.
"""

import json
import sys
import time

try:
    import numpy as np
except ImportError as error:  # the bench reads the last line of stderr as the reason
    sys.stderr.write(f"numpy is not importable: {error}\n")
    sys.exit(3)


def fed_avg(x, weights):
    return np.average(x, axis=0, weights=weights)


def fed_adam(x, weights, state, eta=0.1, beta1=0.9, beta2=0.99, tau=1e-3):
    # Reddi et al. 2021, Algorithm 2: the pseudo-gradient is the weighted mean of the updates.
    delta = np.average(x, axis=0, weights=weights)
    state["m"] = beta1 * state["m"] + (1 - beta1) * delta
    state["v"] = beta2 * state["v"] + (1 - beta2) * delta * delta
    state["w"] = state["w"] + eta * state["m"] / (np.sqrt(state["v"]) + tau)
    return state["w"]


def median(x):
    return np.median(x, axis=0)


def trimmed_mean(x, beta):
    k = int(beta * x.shape[0])
    return np.sort(x, axis=0)[k : x.shape[0] - k].mean(axis=0)


def pairwise_squared(x):
    n = x.shape[0]
    distances = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            diff = x[i] - x[j]
            distances[i, j] = distances[j, i] = np.dot(diff, diff)
    return distances


def krum_scores(distances, f):
    n = distances.shape[0]
    closest = n - f - 2
    # Row i sorted: the first entry is the zero distance to itself.
    return np.sort(distances, axis=1)[:, 1 : closest + 1].sum(axis=1)


def krum(x, f):
    return x[np.argmin(krum_scores(pairwise_squared(x), f))]


def multi_krum(x, f, m):
    chosen = np.argsort(krum_scores(pairwise_squared(x), f), kind="stable")[:m]
    return x[chosen].mean(axis=0)


def bulyan(x, f):
    n = x.shape[0]
    distances = pairwise_squared(x)
    remaining = list(range(n))
    selected = []
    for _ in range(n - 2 * f):
        sub = distances[np.ix_(remaining, remaining)]
        closest = max(1, len(remaining) - f - 2)
        scores = np.sort(sub, axis=1)[:, 1 : closest + 1].sum(axis=1)
        selected.append(remaining.pop(int(np.argmin(scores))))
    chosen = x[selected]
    beta = len(selected) - 2 * f
    centre = np.median(chosen, axis=0)
    order = np.argsort(np.abs(chosen - centre), axis=0)[:beta]
    return np.take_along_axis(chosen, order, axis=0).mean(axis=0)


def norm_bounding(x, weights, bound):
    norms = np.linalg.norm(x, axis=1)
    scale = np.minimum(1.0, bound / np.maximum(norms, 1e-30))
    return np.average(x * scale[:, None], axis=0, weights=weights)


def centered_clipping(x, tau, iterations):
    centre = np.zeros(x.shape[1], dtype=x.dtype)
    for _ in range(iterations):
        diff = x - centre
        norms = np.linalg.norm(diff, axis=1)
        scale = np.minimum(1.0, tau / np.maximum(norms, 1e-30))
        centre = centre + (diff * scale[:, None]).mean(axis=0)
    return centre


def rules(settings, n, d):
    weights = np.arange(1, n + 1, dtype=np.float64)
    state = {"m": np.zeros(d, np.float32), "v": np.full(d, settings["tau"] ** 2, np.float32), "w": np.zeros(d, np.float32)}
    f = settings["f"][str(n)]
    return {
        "fedAvg": lambda x: fed_avg(x, weights),
        "fedAdam": lambda x: fed_adam(x, weights, state),
        "median": median,
        "trimmedMean": lambda x: trimmed_mean(x, settings["beta"]),
        "krum": lambda x: krum(x, f),
        "multiKrum": lambda x: multi_krum(x, f, n - f),
        "bulyan": lambda x: bulyan(x, settings["bulyanF"][str(n)]),
        "normBounding": lambda x: norm_bounding(x, weights, settings["bound"]),
        "centeredClipping": lambda x: centered_clipping(x, settings["clipTau"], settings["iterations"]),
    }


def median_ms(rule, x, settings):
    for _ in range(settings["warmups"]):
        rule(x)
    samples = []
    started = time.perf_counter()
    while len(samples) < settings["samplesMax"] and (
        len(samples) < settings["samplesMin"] or (time.perf_counter() - started) * 1000 < settings["sampleMsMin"]
    ):
        before = time.perf_counter()
        rule(x)
        samples.append((time.perf_counter() - before) * 1000)
    return sorted(samples)[len(samples) // 2]


def serve(settings):
    print(json.dumps({"numpy": np.__version__, "python": sys.version.split()[0]}), flush=True)
    x, table = None, {}
    for line in sys.stdin:
        request = json.loads(line)
        if "n" in request:
            n, d = request["n"], request["d"]
            x = None
            x = np.random.default_rng(n * 7919 + d).standard_normal((n, d), dtype=np.float32)
            table = rules(settings, n, d)
            print(json.dumps({"ready": True}), flush=True)
        else:
            print(json.dumps({"ms": median_ms(table[request["rule"]], x, settings)}), flush=True)


def main():
    if sys.argv[1] == "--serve":
        serve(json.loads(sys.argv[2]))
        return
    settings = json.loads(sys.argv[1])
    only = set(settings.get("rules", []))
    results = {}
    for n, d in settings["sizes"]:
        x = np.random.default_rng(n * 7919 + d).standard_normal((n, d), dtype=np.float32)
        for name, rule in rules(settings, n, d).items():
            if only and name not in only:
                continue
            results[f"{name}_{n}x{d}"] = median_ms(rule, x, settings)
        del x
    print(json.dumps({"numpy": np.__version__, "python": sys.version.split()[0], "ms": results}))


main()
