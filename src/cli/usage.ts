/** The usage text printed by `help`, `--help` and after a usage error. */
export const usageText = `Usage: x0tta6bl4 <command> [options]   (short alias: x0t)

Commands:
  demo                        run a 300-node twin scenario with link failures and node
                              crashes under both timing profiles and print the recovery table
  twin run <scenario>         run a twin scenario (a YAML file, or a name from scenarios/)
  twin compare <scenario>     run it once per profile and print the results side by side
  ca init --trust-domain TD --dir DIR
                              create the mesh CA (Ed25519 + ML-DSA-65 keys, encrypted with a
                              passphrase from X0TTA6BL4_CA_PASSPHRASE or asked on the terminal)
  ca join-token --dir DIR [--ttl 10m]
                              issue a one-time join token for a new node
  help                        show this text

Options of twin run / twin compare / demo:
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

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
`;
