// The console works without this script; it only asks before the steps
// that cannot be undone from the same page.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("form.decide, form.remove") && !form.reason.value.trim()) {
    // The server refuses a decision without a reason too; say so early.
    form.reason.focus();
  }
});
