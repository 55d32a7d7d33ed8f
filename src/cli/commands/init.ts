/**
 * `ten init`: writes a starter `tenement.toml` for the app in the current directory.
 * @module
 */
import { TenementError } from "../../core/errors.ts";
import { nameProblem } from "../../core/instance_key.ts";
import { out } from "../output.ts";

/** True when something exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function detectCommand(dir: string): Promise<string> {
  if (await exists(`${dir}/pyproject.toml`) || await exists(`${dir}/requirements.txt`)) {
    const hasApp = await exists(`${dir}/app.py`);
    return !hasApp && await exists(`${dir}/main.py`)
      ? "uv run python main.py"
      : "uv run python app.py";
  }
  if (await exists(`${dir}/package.json`)) return "npm start";
  if (await exists(`${dir}/go.mod`)) return "go run .";
  if (await exists(`${dir}/Cargo.toml`)) return "cargo run --release";
  return "./app";
}

/** `ten init [--name N] [--command C]`. */
export async function initVerb(options: { name?: string; command?: string }): Promise<number> {
  const dir = Deno.cwd();
  if (await exists(`${dir}/tenement.toml`)) {
    throw new TenementError("tenement.toml already exists in this directory");
  }
  const name = options.name ?? dir.split("/").filter((p) => p !== "").pop() ?? "app";
  if (nameProblem(name) !== undefined) {
    throw new TenementError(
      `Invalid service name '${name}'. Use --name to set a valid name (alphanumeric, hyphens, underscores).`,
    );
  }
  const command = options.command ?? await detectCommand(dir);
  const text = `# tenement config: one process per tenant. Docs: README.md of tenement.
[settings]
data_dir = "./tenement-data"

[service.${name}]
command = ${JSON.stringify(command)}
health = "/health"
idle_timeout = 300
storage_persist = true
isolation = "process"
# Each instance gets PORT to listen on and its own data dir:
env = { DATA_DIR = "{data_dir}/{name}/{id}" }

[instances]
${name} = ["default"]
`;
  await Deno.writeTextFile(`${dir}/tenement.toml`, text, { createNew: true });
  out.line("Created tenement.toml");
  out.line();
  out.line(`  Service: ${name}`);
  out.line(`  Command: ${command}`);
  out.line();
  out.line("Next steps:");
  out.line("  1. ten token-gen      # create an API token");
  out.line("  2. ten serve          # start tenement");
  out.line("  3. ten ps             # list running instances");
  return 0;
}
