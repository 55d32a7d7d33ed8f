/**
 * A throwaway certificate authority for HTTPS tests and benchmarks, made with the `openssl` CLI:
 * a CA certificate and leaf certificates it signs (EC P-256, two days). Leaves carry
 * `basicConstraints=CA:FALSE` and their names as DNS subject alternative names (wildcards
 * allowed), because rustls, and so Deno's `connectTls`/`fetch`, refuses a self-signed
 * `req -x509` certificate as a server leaf (`CaUsedAsEndEntity`). Nothing is written outside the
 * temp dir it removes on dispose.
 * @module
 */
import { tempDir } from "./temp_dir.ts";

/** A leaf certificate (PEM) and its private key (PEM), in the shape `Deno.listenTls` takes. */
export interface TestKeyPair {
  readonly cert: string;
  readonly key: string;
}

/** A CA that signs leaf certificates; disposing it removes its files. */
export interface TestCa extends AsyncDisposable {
  /** The CA certificate (PEM): what clients trust (`caCerts`, `--cacert`). */
  readonly caCert: string;
  /** The CA certificate's file. */
  readonly caCertPath: string;
  /**
   * A leaf for `names` (DNS names such as `app.example.test` or `*.example.test`, or IP literals
   * such as `127.0.0.1`), the first as
   * its common name; files `{file}.crt` and `{file}.key` are kept in the CA's dir.
   */
  issue(
    names: readonly string[],
    file?: string,
  ): Promise<TestKeyPair & { readonly certPath: string; readonly keyPath: string }>;
}

function isIpLiteral(name: string): boolean {
  return /^[0-9.]+$/.test(name) || name.includes(":");
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const res = await new Deno.Command("openssl", {
    args: [...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(res.stderr).trim()}`,
    );
  }
}

/** Makes a new CA in a temp dir. Needs `openssl` on PATH. */
export async function createTestCa(commonName = "tenement test CA"): Promise<TestCa> {
  const dir = await tempDir("ten-test-ca-");
  try {
    await openssl([
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      `/CN=${commonName}`,
    ], dir.path);
  } catch (error) {
    await dir[Symbol.asyncDispose]();
    throw error;
  }
  let serial = 0;
  return {
    caCert: await Deno.readTextFile(`${dir.path}/ca.crt`),
    caCertPath: `${dir.path}/ca.crt`,
    async issue(names, file) {
      if (names.length === 0) throw new Error("Cannot issue a certificate: no names given");
      const base = file ?? `leaf${++serial}`;
      const ext = [
        `subjectAltName=${
          names.map((name) => `${isIpLiteral(name) ? "IP" : "DNS"}:${name}`).join(",")
        }`,
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature",
        "extendedKeyUsage=serverAuth",
        "",
      ].join("\n");
      await Deno.writeTextFile(`${dir.path}/${base}.ext`, ext);
      await openssl([
        "req",
        ...EC_KEY,
        "-keyout",
        `${base}.key`,
        "-out",
        `${base}.csr`,
        "-subj",
        `/CN=${names[0]}`,
      ], dir.path);
      await openssl([
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${base}.crt`,
        "-extfile",
        `${base}.ext`,
      ], dir.path);
      const certPath = `${dir.path}/${base}.crt`;
      const keyPath = `${dir.path}/${base}.key`;
      return {
        cert: await Deno.readTextFile(certPath),
        key: await Deno.readTextFile(keyPath),
        certPath,
        keyPath,
      };
    },
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}
