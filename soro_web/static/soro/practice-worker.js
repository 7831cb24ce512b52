// Soro's offline practice: keeps the practice pages, their pack and the static files they
// use, so a pupil can go on practising without a connection. Network first (fresh when
// online), the cache when offline. Answers are not handled here: the page queues them.
const CACHE = "soro-practice-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  const wanted =
    url.origin === self.location.origin &&
    (url.pathname.startsWith("/exams/practice/offline/") || url.pathname.startsWith("/static/"));
  if (!wanted) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request, { ignoreVary: true }).then((hit) => hit || Response.error()))
  );
});
