// Passkeys (WebAuthn) in the page: ask the server for options, let the browser and the
// device make or use the passkey, send the answer back. Used by the sign-up, log-in and
// account pages. Browsers allow WebAuthn on https:// origins and on http://localhost only.

import { post } from "./api.js";

const UNSUPPORTED =
  "This browser cannot use passkeys here. Passkeys need a recent browser, and a site " +
  "served over HTTPS (or on localhost).";

/** Whether this page can use passkeys at all. */
export function passkeysAvailable() {
  return (
    window.isSecureContext &&
    typeof PublicKeyCredential !== "undefined" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
  );
}

/** What the browser's refusal means for a person (cancelled, timed out, wrong device…). */
function deviceProblem(error) {
  if (error && error.name === "NotAllowedError") {
    return "The passkey was not used: the request was cancelled or timed out. Try again.";
  }
  if (error && error.name === "InvalidStateError") {
    return "This device already holds a passkey for this account.";
  }
  return `The passkey did not work (${error && error.name ? error.name : "error"}). Try again.`;
}

/**
 * One ceremony: POST ``optionsPath`` (with ``fields``), run create or get on the device,
 * then POST the answer to ``answerPath`` with ``fields`` and ``extra``. Resolves to the
 * server's answer ({ok, status, message, ...}) and never throws.
 */
async function ceremony(kind, optionsPath, answerPath, fields, extra = {}) {
  if (!passkeysAvailable()) return { ok: false, status: 0, message: UNSUPPORTED };
  const asked = await post(optionsPath, fields);
  if (!asked.ok) return asked;
  let credential;
  try {
    credential =
      kind === "create"
        ? await navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(asked.options),
          })
        : await navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(asked.options),
          });
  } catch (error) {
    return { ok: false, status: 0, message: deviceProblem(error) };
  }
  return post(answerPath, { ...fields, ...extra, credential: credential.toJSON() });
}

/** Make a new passkey on this device. */
export function createPasskey(optionsPath, answerPath, fields, extra) {
  return ceremony("create", optionsPath, answerPath, fields, extra);
}

/** Prove a passkey of ``fields.username`` with this device. */
export function usePasskey(answerPath, fields) {
  return ceremony("get", "/log_in/passkey/options", answerPath, fields);
}
