// A private Postgres cluster (Debian's postgresql-common) that a chaos test may stop and restart,
// never the shared one on 5432.

/** A running private cluster: its URL, and the pg_ctlcluster actions a test plays with. */
export interface PrivateCluster {
  name: string;
  port: number;
  /** The `postgres` database of the cluster, trust auth. */
  url: string;
  ctl(action: "start" | "stop" | "restart"): Promise<void>;
  /** Stops and removes the cluster and its files; safe to call twice. */
  drop(): Promise<void>;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${err}`);
  }
}

/** A port nobody listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The newest installed major version (15 on this project's machines). */
function installedVersion(): string {
  const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name)
    .filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  if (!versions.length) throw new Error("no Postgres under /usr/lib/postgresql");
  return versions[versions.length - 1];
}

/** Creates and starts `chaos-<random>` on a free port; needs root and postgresql-common. */
export async function createPrivateCluster(): Promise<PrivateCluster> {
  const version = installedVersion();
  const name = `chaos-${crypto.randomUUID().slice(0, 8)}`;
  const port = freePort();
  // --skip-systemctl-redirect: on a machine with systemd, pg_ctlcluster would hand the cluster to
  // a systemd unit instead; .ci/run starts the shared cluster the same way.
  const ctl = (action: string) =>
    run("pg_ctlcluster", ["--skip-systemctl-redirect", version, name, action]);
  await run("pg_createcluster", [version, name, "-p", String(port), "--", "--auth=trust"]);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await run("pg_dropcluster", ["--stop", version, name]);
  };
  try {
    await ctl("start");
  } catch (err) {
    await drop().catch(() => {});
    throw err;
  }
  return {
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    ctl,
    drop,
  };
}
