import { equal, match, rejects, throws } from "node:assert/strict";
import { parseWebhookUrl, postWebhook } from "./report_webhook.ts";

/** A local receiver answering `statusOf(try)`; counts the tries. */
function receiver(statusOf: (attempt: number) => number) {
  let tries = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    tries++;
    return new Response(null, { status: statusOf(tries) });
  });
  return {
    url: new URL(`http://127.0.0.1:${server.addr.port}/`),
    get tries() {
      return tries;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("parseWebhookUrl() accepts http and https only", () => {
  equal(parseWebhookUrl("https://hooks.example.com/x").host, "hooks.example.com");
  throws(() => parseWebhookUrl("file:///etc/passwd"), /expected an http/);
  throws(() => parseWebhookUrl("not a url"), /not a URL/);
});

Deno.test("postWebhook() retries 5xx and succeeds on a later try", async () => {
  await using hook = receiver((attempt) => attempt < 3 ? 503 : 204);
  equal(await postWebhook(hook.url, { text: "hi" }, { backoffMs: 10 }), 3);
});

Deno.test("postWebhook() does not retry a 4xx, and names it", async () => {
  await using hook = receiver(() => 404);
  await rejects(postWebhook(hook.url, {}, { backoffMs: 10 }), (error: Error) => {
    match(error.message, /failed: answered 404/);
    return true;
  });
  equal(hook.tries, 1);
});

Deno.test("postWebhook() gives up after its tries on network errors", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await rejects(
    postWebhook(new URL(`http://127.0.0.1:${port}/`), {}, { backoffMs: 10, tries: 2 }),
    /Webhook http:\/\/127\.0\.0\.1:\d+ failed: /,
  );
});
