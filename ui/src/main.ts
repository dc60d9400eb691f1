import { App } from "./app";

const root = document.getElementById("app");
if (root) {
  const app = new App(root);
  app.start().catch((e) => {
    root.textContent = `Uplink could not start its window: ${String(e)}`;
  });
}
