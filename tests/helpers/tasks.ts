/**
 * The arguments of a deno.json task as `deno task` passes them: each `$(…)` replaced by what the
 * command inside prints (run from the repository root, `deno` being this deno), then words split
 * on whitespace outside double quotes, the quotes removed.
 *
 * @module
 */
import { repoPath } from "./deploy.ts";

/** `task`'s words, with command substitutions done (see the module doc). */
export async function taskWords(task: string): Promise<string[]> {
  let text = "";
  let last = 0;
  for (const match of task.matchAll(/\$\(([^)]*)\)/g)) {
    const [command, ...args] = match[1]!.trim().split(/\s+/);
    const output = await new Deno.Command(command === "deno" ? Deno.execPath() : command!, {
      args,
      cwd: repoPath(""),
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) throw new Error(`${match[0]} failed with exit code ${output.code}`);
    text += task.slice(last, match.index) + new TextDecoder().decode(output.stdout).trim();
    last = match.index! + match[0].length;
  }
  text += task.slice(last);
  return Array.from(text.matchAll(/(?:"[^"]*"|[^\s"])+/g), (m) => m[0].replaceAll('"', ""));
}
