// openkms console: small progressive enhancements. Every page works without this script; the
// server validates every form again with the same rules as the API.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // Region selector: switch as soon as a region is chosen.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }

  // Rotation Period: the custom number of days only when "Customize" is chosen.
  for (const span of document.querySelectorAll("[data-custom-days]")) {
    const select = span.closest("form").querySelector("select[name=rotation_period]");
    const sync = () => span.classList.toggle("off", select.value !== "custom");
    select.addEventListener("change", sync);
    sync();
  }

  // The Create Key dialog: modal (focus stays inside; Escape cancels) and driven by the spec.
  const dialog = document.querySelector("dialog[data-modal]");
  if (!dialog) return;
  dialog.close();
  dialog.showModal();
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    window.location.href = dialog.dataset.cancelHref;
  });
  const firstError = dialog.querySelector(".field-error:not([hidden]), .form-error");
  const invalid = firstError && firstError.closest(".field, .advanced");
  const focusTarget = invalid ? invalid.querySelector("input:not([disabled]), select, textarea") : null;
  (focusTarget || dialog.querySelector("#spec")).focus();

  const data = JSON.parse(document.getElementById("spec-data").textContent);
  const form = dialog.querySelector("form");
  const specSelect = form.querySelector("#spec");
  const rotation = form.querySelector("[data-symmetric-only]");

  // Enable the choices the chosen spec allows; show the server's reason next to the others.
  const syncChoices = (group, name) => {
    const spec = data[specSelect.value];
    const inputs = [...form.querySelectorAll(`input[name=${name}]`)];
    for (const input of inputs) {
      const why = spec[group][input.value];
      input.disabled = why !== null;
      const span = form.querySelector(`[data-why=${group}][data-value="${CSS.escape(input.value)}"]`);
      if (span) span.textContent = why ? `${span.dataset.label}: ${why}` : "";
    }
    if (!inputs.some((i) => i.checked && !i.disabled)) {
      const preferred = inputs.find((i) => !i.disabled && (name !== "usage" || i.value === spec.defaultUsage));
      const fallback = preferred || inputs.find((i) => !i.disabled);
      for (const i of inputs) i.checked = i === fallback;
    }
  };
  const syncSpec = () => {
    const spec = data[specSelect.value];
    syncChoices("usages", "usage");
    syncChoices("levels", "protection_level");
    syncChoices("origins", "origin");
    // The acknowledgement is only for External material, when the server offers it.
    form.querySelector("#external_ack").disabled = spec.origins.EXTERNAL !== null;
    // Rotation Period is only for symmetric specs: hidden and not sent for the others.
    rotation.hidden = !spec.symmetric;
    rotation.disabled = !spec.symmetric;
  };
  specSelect.addEventListener("change", syncSpec);
  syncSpec();
});
