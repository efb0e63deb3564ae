import { clientCommandsUsage } from './client.js';

/** The usage text printed by `help`, `--help` and after a usage error. */
export const usageText = `Usage: x0tta6bl4 <command> [options]   (short alias: x0t)

Commands:
  demo [--keep] [--json FILE] the main job: a CA and 7 real node processes on loopback (ring with
                              chords), traffic, kill -9 of a transit node, a cut link, and the
                              recovery times measured on real sockets; --keep leaves the mesh up
                              until Ctrl-C
  node init --join TOKEN --ca URL (--ca-sha256 HEX | --bundle FILE) --dir DIR
                              enroll a node with the CA service: keys made here, SVID fetched
  node start --config FILE    run a node (YAML config, see docs/node-config.md) until SIGINT/SIGTERM
  node drain                  (with --api, --token-file) stop offering transit, then leave
  twin demo                   run a 300-node twin scenario with link failures and node
                              crashes under both timing profiles and print the recovery table
  twin run <scenario>         run a twin scenario (a YAML file, or a name from scenarios/)
  twin compare <scenario>     run it once per profile and print the results side by side
  twin dataset <scenario> --out DIR [--seed N] [--window-ms M] [--json] [--quiet]
                              run one seed with telemetry on every node and write labelled
                              windows (DIR/manifest.json, DIR/windows.bin; docs/telemetry.md)
  fl status --dir DIR [--json]
                              the federated model registry of a node: current model id, round,
                              participants, strategy, epsilon spent (docs/fl.md)
  fl models --dir DIR [--json]
                              every model version with its parent, round, strategy and epsilon
  fl rollback ID --dir DIR [--trust FILE] [--json]
                              verify an earlier model (signatures, parent chain) and make it
                              current again; recorded as an event, history kept
  ca init --trust-domain TD --dir DIR
                              create the mesh CA (Ed25519 + ML-DSA-65 keys, encrypted with a
                              passphrase from X0TTA6BL4_CA_PASSPHRASE or asked on the terminal)
  ca join-token --dir DIR [--ttl 10m]
                              issue a one-time join token for a new node; also prints the
                              CA certificate's sha256, the pin a node enrolls with
  ca serve --dir DIR [--listen 127.0.0.1:7470] [--svid-ttl 1h]
                              serve the CA over HTTP (enrollment, SVID renewal, trust bundle,
                              revocation list) until SIGINT or SIGTERM
  ca revoke SPIFFE-ID --dir DIR [--serial HEX] [--reason TEXT]
                              revoke a node (or one of its certificates); a running CA
                              service serves the new revocation list at once
  ca list --dir DIR [--json]  enrolled nodes, unused join tokens and revocations (no passphrase)
  ca issue PATH --dir DIR --out OUT [--ttl 24h] [--json]
                              issue an SVID (spiffe://<trust domain>PATH, e.g. /operator/alice)
                              with fresh keys into OUT, for calling node APIs over mTLS
                              (--identity OUT); revoke it with ca revoke like a node
  ca rotate-network-key --dir DIR [--activate-in 10m] [--retire-after 10m] [--json]
                              add a network key epoch: nodes fetch it from the CA service,
                              send under it from --activate-in, and refuse the old key
                              --retire-after that; revoked nodes are refused the new key
${clientCommandsUsage}  help                        show this text

Options of twin run / twin compare / twin demo:
  --seed N                    first seed (default: the scenario's)
  --seeds K                   number of seeds, run as seed, seed+1, ... (default: the scenario's)
  --nodes N                   override the topology's node count
  --profile fast|rfc8966      timing profile (twin run only; default: the scenario's)
  --profiles a,b              profiles to compare (twin compare; default fast,rfc8966)
  --json FILE                 write the machine-readable report to FILE ('-' for stdout)
  --html FILE                 write a self-contained HTML report to FILE
  --deterministic             write 0 for wallMs and eventsPerS so reports compare byte for byte
  --quiet                     no progress bar
  --version                   print the version

Options of status / neighbours / routes / ping / traceroute / link / audit / incidents / actions / node drain:
  --api URL                   the node API (default http://127.0.0.1:7480; https:// for a node
                              with api.mtls)
  --token-file PATH           file holding the API token (default: $X0TTA6BL4_API_TOKEN)
  --identity DIR              call as the SVID in DIR (a node's state directory or one made by
                              ca issue) instead of a token; needs an https --api
  --ca FILE                   the mesh CA certificate the node's must chain to, for https with a
                              token (with --identity: its ca.der unless given)
  --json                      print the API's JSON answer as is

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
`;
