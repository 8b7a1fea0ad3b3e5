// The embedded development database: PGlite in the data dir, served over a local socket so that
// postgres.js stays the only driver in the code.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { StartEmbeddedPostgres } from "./open.ts";

/** Opens (or creates) PGlite at `dir` and listens on a free 127.0.0.1 port. */
export const startEmbeddedPostgres: StartEmbeddedPostgres = async (dir) => {
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
};
