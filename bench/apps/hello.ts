// Minimal Deno.serve hello, the reference row of idle_rss.ts (what a bare Deno server costs):
// listens on 127.0.0.1:$PORT, answers 200 "hello". Run with --allow-net --allow-env=PORT.
Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen: () => {} },
  () => new Response("hello\n", { headers: { "content-type": "text/plain" } }),
);
