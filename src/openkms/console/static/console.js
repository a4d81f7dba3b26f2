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

  // Import parameters: the wrapping algorithms of the chosen wrapping key spec only.
  const wrappingSpec = document.getElementById("wrapping_spec");
  if (wrappingSpec) {
    const algorithm = document.getElementById("wrapping_algorithm");
    const syncWrapping = () => {
      for (const group of algorithm.querySelectorAll("optgroup")) {
        const other = group.dataset.spec !== wrappingSpec.value;
        group.hidden = other;
        group.disabled = other || wrappingSpec.selectedOptions[0].disabled;
      }
      const chosen = algorithm.selectedOptions[0];
      if (!chosen || chosen.parentElement.disabled || chosen.disabled) {
        const first = algorithm.querySelector("optgroup:not([disabled]) option:not([disabled])");
        if (first) first.selected = true;
      }
    };
    wrappingSpec.addEventListener("change", syncWrapping);
    syncWrapping();
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
  // The focus goes to the control the first error is about (the one it describes), else to the
  // first control of its field, else to Key Spec.
  const firstError = dialog.querySelector(".field-error:not([hidden]), .form-error");
  const enabled = "input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled])";
  let focusTarget = null;
  if (firstError && firstError.id) {
    for (const el of dialog.querySelectorAll(`[aria-describedby~="${firstError.id}"]`)) {
      focusTarget = el.matches(enabled) ? el : el.querySelector(`${enabled}:checked`) || el.querySelector(enabled);
      if (focusTarget) break;
    }
  }
  if (!focusTarget && firstError) {
    const invalid = firstError.closest(".field, .advanced");
    focusTarget = invalid ? invalid.querySelector(enabled) : null;
  }
  (focusTarget || dialog.querySelector("#spec")).focus();

  const data = JSON.parse(document.getElementById("spec-data").textContent);
  const form = dialog.querySelector("form");
  const specSelect = form.querySelector("#spec");
  const rotation = form.querySelector("[data-symmetric-only]");

  const storeSelect = form.querySelector("#key_store");

  // Enable the choices the chosen spec (and, for Protection Level, key store) allows; show the
  // server's reason next to the others.
  const syncChoices = (group, name) => {
    const spec = data[specSelect.value];
    const choices = group === "levels" ? spec.levels[storeSelect.value] || spec.levels[""] : spec[group];
    const inputs = [...form.querySelectorAll(`input[name=${name}]`)];
    for (const input of inputs) {
      const why = choices[input.value];
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
    syncRotation();
  };
  // Rotation Period is only for symmetric keys whose material KMS generates: hidden (and not
  // sent) for the other specs and for External key material.
  const syncRotation = () => {
    const external = form.querySelector("input[name=origin][value=EXTERNAL]");
    const off = !data[specSelect.value].symmetric || (external && external.checked);
    rotation.hidden = off;
    rotation.disabled = off;
  };
  for (const input of form.querySelectorAll("input[name=origin]")) input.addEventListener("change", syncRotation);
  specSelect.addEventListener("change", syncSpec);
  storeSelect.addEventListener("change", syncSpec);
  syncSpec();
});
