// The few Docker Engine API calls a lab test needs to create a container exactly as the program's docker
// provider does: one JSON create call (entrypoint, health check test array, limits, mounts, networks),
// each upload as a one-file tar extracted at "/" (with its owner, group and mode), then start. The daemon
// itself comes from scripts/lab/dockerd.ts.
//
//   const api = engineApi(dockerd.host);
//   const { status, body } = await api.call("POST", "/containers/create?name=x", spec);
//   await api.upload(id, [{ file: "/run/secrets/pw", content: "…", owner: "999", group: "999", permissions: "0400" }]);
import * as http from "node:http";

export interface Upload {
  file: string;
  content: string;
  owner?: string;
  group?: string;
  /** Octal string, e.g. "0400"; default 0644 (the provider's default for a non-executable upload). */
  permissions?: string;
}

export interface EngineApi {
  /** One API call; a JSON body in (a Buffer is sent as is), the parsed JSON (or text) out. */
  call(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<{ status: number; body: unknown; raw: string }>;
  /** The uploads of a created container, one tar each, extracted at "/" like the provider's. */
  upload(id: string, files: Upload[]): Promise<void>;
}

/** A tar archive (ustar) holding one regular file. */
export function tarOneFile(u: Upload): Buffer {
  const name = u.file.replace(/^\/+/, "");
  if (Buffer.byteLength(name) > 99) throw new Error(`upload path too long for this tar writer: ${u.file}`);
  const content = Buffer.from(u.content, "utf8");
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, "utf8");
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
  put(name, 0, 100);
  put(oct(parseInt(u.permissions ?? "0644", 8), 8), 100, 8);
  put(oct(Number(u.owner ?? 0), 8), 108, 8);
  put(oct(Number(u.group ?? 0), 8), 116, 8);
  put(oct(content.length, 12), 124, 12);
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
  put("        ", 148, 8);
  put("0", 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return Buffer.concat([h, content, Buffer.alloc((512 - (content.length % 512)) % 512), Buffer.alloc(1024)]);
}

export function engineApi(dockerHost: string): EngineApi {
  if (!dockerHost.startsWith("unix://")) throw new Error(`engineApi needs a unix:// DOCKER_HOST, got ${dockerHost}`);
  const socketPath = dockerHost.slice("unix://".length);
  const call: EngineApi["call"] = (method, urlPath, body, contentType) => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = http.request({
      socketPath, method, path: urlPath,
      headers: payload ? { "Content-Type": contentType ?? "application/json", "Content-Length": payload.length } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = raw;
        try { parsed = raw ? JSON.parse(raw) : undefined; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, raw });
      });
    });
    req.on("error", reject);
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 120 s`)));
    if (payload) req.write(payload);
    req.end();
  });
  return {
    call,
    async upload(id, files) {
      for (const f of files) {
        const r = await call("PUT", `/containers/${encodeURIComponent(id)}/archive?path=%2F`, tarOneFile(f), "application/x-tar");
        if (r.status !== 200) throw new Error(`upload ${f.file} into ${id}: ${r.status} ${r.raw}`);
      }
    },
  };
}

/** A Go-style duration ("5s", "120s", "500ms", "2m") as the Engine API's nanoseconds. */
export function ns(duration: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(duration);
  if (!m) throw new Error(`bad duration ${duration}`);
  return Number(m[1]) * { ms: 1e6, s: 1e9, m: 60e9 }[m[2] as "ms" | "s" | "m"];
}
