// The print button of the lesson's print view. A file of its own: the
// Content-Security-Policy runs no inline handlers.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
