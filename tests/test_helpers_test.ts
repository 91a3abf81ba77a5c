/**
 * What `deno task test` prints about itself: the MySQL skip notice once per run, however many
 * test files load the database helper.
 */
import { assertEquals } from "./helpers/assert.ts";

const NOTICE = "MySQL tests skipped";

Deno.test("a run without TEST_MYSQL_URL says once, not once per test file, that MySQL tests are skipped", async () => {
  const env = Deno.env.toObject();
  delete env.TEST_MYSQL_URL;
  delete env.ITEMS_API_TEST_MYSQL_NOTICE_PRINTED; // this run's own notice
  // Three files that load the helper; the filter matches no test, so only their modules run.
  const files = ["tests/roles_test.ts", "tests/id_params_test.ts", "tests/versions_admin_test.ts"];
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check", "--filter", "no test is named like this", ...files],
    cwd: new URL("..", import.meta.url).pathname,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assertEquals(output.split(NOTICE).length - 1, 1, output);
});
