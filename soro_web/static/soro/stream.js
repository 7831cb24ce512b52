/* Read a streamed NDJSON response (one JSON event per line) and hand each event to onEvent.
   Shared by every page that streams from the model: the lesson builder, the playground and
   the chats. Returns a promise that settles when the stream ends. */
(function () {
  "use strict";
  window.soroReadEvents = function (response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffered = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          buffered += decoder.decode();
          if (buffered.trim()) onEvent(JSON.parse(buffered));
          return;
        }
        buffered += decoder.decode(chunk.value, {stream: true});
        var lines = buffered.split("\n");
        buffered = lines.pop();
        lines.forEach(function (line) { if (line) onEvent(JSON.parse(line)); });
        return pump();
      });
    }
    return pump();
  };
})();
