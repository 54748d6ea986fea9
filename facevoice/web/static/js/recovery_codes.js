// Showing a fresh set of recovery codes once: the list, a text-file download, and the
// "I have saved these codes" check box that lets the person go on. Used by the sign-up and
// the account page.

const FILE_NAME = "facevoice-recovery-codes.txt";

/** The text file's contents: who and when, then one code per line. */
export function codesText(username, codes, now = new Date()) {
  return [
    `facevoice recovery codes for ${username}`,
    `Made ${now.toISOString().slice(0, 16).replace("T", " ")} UTC. Each code works once.`,
    "Log in with one at /log_in when your face or voice is not recognised.",
    "",
    ...codes,
    "",
  ].join("\n");
}

/**
 * Fill a codes panel (``root``) with ``codes`` and wire it up. The panel holds
 * ``.codes-list`` (an <ol>), ``.codes-download`` (a button), ``.codes-saved`` (a check box)
 * and ``.codes-continue`` (a link or button that stays disabled until the box is ticked).
 */
export function showCodes(root, username, codes) {
  const list = root.querySelector(".codes-list");
  list.replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }),
  );
  const download = root.querySelector(".codes-download");
  download.onclick = () => {
    const blob = new Blob([codesText(username, codes)], { type: "text/plain" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = FILE_NAME;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };
  const saved = root.querySelector(".codes-saved");
  const next = root.querySelector(".codes-continue");
  saved.checked = false;
  const update = () => {
    if (saved.checked) next.removeAttribute("aria-disabled");
    else next.setAttribute("aria-disabled", "true");
  };
  saved.onchange = update;
  next.addEventListener("click", (event) => {
    if (!saved.checked) {
      event.preventDefault();
      saved.focus();
    }
  });
  update();
  root.hidden = false;
}
