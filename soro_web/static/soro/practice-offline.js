// Offline practice of one topic: items from the pack, checked in the browser, answers
// queued in localStorage with an id each and sent to the server (which stores each id once)
// whenever a connection is there. The server scores them again.
(function () {
  "use strict";
  const root = document.getElementById("offline");
  if (!root) return;
  const say = root.dataset;
  const QUEUE = "soro-practice-queue";
  const LABELS = "АБВГД";
  const FOLD = { "ғ": "г", "ӣ": "и", "қ": "к", "ӯ": "у", "ҳ": "х", "ҷ": "ч", "ё": "е" };
  const box = document.getElementById("question");
  let items = [];
  let position = 0;

  // Once the worker controls this page, fetch what the page needs again so that it is kept.
  function warm() {
    const assets = document.querySelectorAll("link[rel=stylesheet], script[src]");
    const urls = [location.href, say.pack].concat(Array.from(assets, (node) => node.href || node.src));
    urls.forEach((url) => fetch(url, { credentials: "same-origin" }).catch(() => {}));
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(say.worker, { scope: say.scope }).catch(() => {});
    if (navigator.serviceWorker.controller) warm();
    else navigator.serviceWorker.addEventListener("controllerchange", warm);
  }

  function queue() {
    try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; }
  }
  function keep(list) {
    localStorage.setItem(QUEUE, JSON.stringify(list));
    document.getElementById("offline-queue").textContent = say.queued.replace("{count}", list.length);
  }
  async function sync() {
    const waiting = queue();
    if (!waiting.length || !navigator.onLine) return keep(waiting);
    try {
      const response = await fetch(say.sync, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": say.csrf },
        body: JSON.stringify({ answers: waiting }),
      });
      if (!response.ok) return keep(queue());
      const sent = new Set(waiting.map((answer) => answer.client_id));
      keep(queue().filter((answer) => !sent.has(answer.client_id)));
    } catch (e) {
      keep(queue());
    }
  }
  function words(text) {
    return text.normalize("NFC").toLowerCase().trim().replace(/^[\s.,;:!?«»"']+|[\s.,;:!?«»"']+$/g, "")
      .replace(/\s+/g, " ").replace(/[ғӣқӯҳҷё]/g, (c) => FOLD[c]);
  }
  function number(text) {
    const cleaned = text.trim().replace("\u2212", "-").replace(/[\s\u00a0]/g, "");
    return /^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(cleaned) ? parseFloat(cleaned.replace(",", ".")) : null;
  }
  function isRight(item, answer) {
    const key = item.key;
    if (item.type === "choice") return answer.choice === key.answer;
    if (item.type === "matching") return key.pairs.every(([left, right]) => answer.pairs[left] === right);
    if (key.numeric) {
      const value = number(answer.text);
      return value !== null && Math.abs(value - key.numeric.value) <= key.numeric.tolerance + 1e-9;
    }
    return key.answers.some((accepted) => words(accepted) === words(answer.text));
  }
  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
    return node;
  }
  function read(form, item) {
    if (item.type === "choice") {
      const chosen = form.querySelector("input[name=choice]:checked");
      return chosen ? { choice: Number(chosen.value) } : say.choose;
    }
    if (item.type === "matching") {
      const pairs = {};
      for (const select of form.querySelectorAll("select")) {
        if (select.value === "") return say.pairs;
        pairs[select.dataset.left] = Number(select.value);
      }
      return { pairs: pairs };
    }
    const text = form.querySelector("input[name=text]").value;
    return text.trim() ? { text: text } : say.write;
  }
  function show() {
    const item = items[position % items.length];
    box.replaceChildren();
    box.append(element("p", item.stem, { class: "stem" }));
    const form = element("form");
    if (item.type === "choice") {
      item.options.forEach((text, index) => {
        const label = element("label", null, { class: "option" });
        label.append(element("input", null, { type: "radio", name: "choice", value: String(index) }));
        label.append(" " + LABELS[index] + ") " + text);
        form.append(label);
      });
    } else if (item.type === "matching") {
      const list = element("ol", null, { class: "match-right" });
      item.right.forEach((text, index) => list.append(element("li", LABELS[index] + ") " + text)));
      form.append(list);
      item.left.forEach((text, index) => {
        const label = element("label", null, { class: "pair" });
        label.append(element("span", index + 1 + ". " + text));
        const select = element("select", null, { "data-left": String(index) });
        select.append(element("option", "—", { value: "" }));
        item.right.forEach((_, right) => select.append(element("option", LABELS[right], { value: String(right) })));
        label.append(select);
        form.append(label);
      });
    } else {
      form.append(element("input", null, { type: "text", name: "text", autocomplete: "off", inputmode: item.numeric ? "decimal" : "text" }));
    }
    const error = element("p", null, { class: "error", role: "alert" });
    const button = element("button", say.check, { type: "submit", class: "button" });
    form.append(error, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const answer = read(form, item);
      if (typeof answer === "string") { error.textContent = answer; return; }
      const right = isRight(item, answer);
      keep(queue().concat([{ client_id: crypto.randomUUID(), item_id: item.id, answer: answer }]));
      sync();
      button.remove();
      const feedback = element("div", null, { class: "feedback " + (right ? "right" : "wrong"), role: "status" });
      feedback.append(element("p", (right ? say.right : say.wrong) + " " + say.answer + ": " + item.key_text));
      feedback.append(element("p", item.explanation));
      if (item.citation) feedback.append(element("p", say.textbook + ": " + item.citation, { class: "muted" }));
      const next = element("button", say.next, { type: "button", class: "button" });
      next.addEventListener("click", () => { position += 1; show(); });
      feedback.append(next);
      box.append(feedback);
    });
    box.append(form);
  }
  fetch(say.pack, { credentials: "same-origin" })
    .then((response) => response.json())
    .then((pack) => { items = pack.items; if (items.length) show(); })
    .catch(() => { box.textContent = say.failed; });
  window.addEventListener("online", sync);
  sync();
})();
