// Shared by the browser scripts: Chromium from Debian driven by playwright-core, sign-in,
// screenshots, checks, and a record of page errors. One Session per script run.

import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

export const HTML_LANG = { en: "en", zh: "zh-CN" };

export function args(script) {
  const [base, artifacts, lang] = process.argv.slice(2);
  if (!base || !artifacts || !["en", "zh"].includes(lang)) {
    console.error(`usage: node ${script} <base_url> <artifacts_dir> <en|zh>`);
    process.exit(2);
  }
  mkdirSync(artifacts, { recursive: true });
  return { base, artifacts, lang };
}

export class Session {
  constructor({ base, artifacts, lang }) {
    Object.assign(this, { base, artifacts, lang });
    this.run = `${Date.now().toString(36)}${lang}`;
    this.problems = [];
    this.page = null;
  }

  async open() {
    this.browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    });
  }

  step(message) {
    console.log(`[${this.lang}] ${message}`);
  }

  check(condition, message) {
    if (!condition) throw new Error(message);
  }

  async newPage({ width = 1280, height = 900, mobile = false } = {}) {
    const context = await this.browser.newContext({
      viewport: { width, height },
      locale: this.lang === "zh" ? "zh-CN" : "en-US",
      isMobile: mobile,
      hasTouch: mobile,
    });
    const page = await context.newPage();
    page.on("pageerror", (error) => this.problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") this.problems.push(`console error: ${message.text()}`);
    });
    return page;
  }

  async login(username, options = {}) {
    this.page = await this.newPage(options);
    const page = this.page;
    await page.goto(`${this.base}/login`);
    await page.fill("#username", username);
    await page.fill("#password", "demo");
    await Promise.all([
      page.waitForURL((url) => !url.pathname.startsWith("/login")),
      page.click("form button[type=submit]"),
    ]);
    if ((await page.getAttribute("html", "lang")) !== HTML_LANG[this.lang]) {
      await Promise.all([
        page.waitForLoadState("load"),
        page.click(`.usermenu button[name=lang][value=${this.lang}]`),
      ]);
    }
    this.check((await page.getAttribute("html", "lang")) === HTML_LANG[this.lang],
      `page language is not ${this.lang}`);
    this.step(`signed in as ${username}`);
    return page;
  }

  async logout() {
    const page = this.page;
    await Promise.all([page.waitForURL(/\/login/), page.click(".usermenu form[action$='/logout'] button")]);
    await page.context().close();
  }

  async shot(name, options = {}) {
    const path = join(this.artifacts, `${this.lang}-${name}.png`);
    await this.page.screenshot({ path, fullPage: true, ...options });
    this.step(`screenshot ${path}`);
  }

  async expectText(selector, text) {
    const content = await this.page.textContent(selector);
    this.check(content && content.includes(text),
      `expected "${text}" in ${selector}, found: ${content && content.trim().slice(0, 300)}`);
  }

  async openTask(instanceId, bpmnId) {
    const page = this.page;
    await page.goto(`${this.base}/inbox?q=${encodeURIComponent(`#${instanceId}`)}`);
    const link = page.locator(`a.list-link[data-task="${bpmnId}"][data-instance="${instanceId}"]`);
    await link.waitFor({ timeout: 15000 });
    await Promise.all([page.waitForURL(/\/inbox\/tasks\//), link.click()]);
  }

  async submitOnboarding(username, changes = {}) {
    const page = this.page;
    const values = { first_name: "Li", last_name: `Na${this.run}`, username,
      personal_email: "li.na@example.com", role: "Accountant", start_date: "2099-06-01", ...changes };
    await page.goto(`${this.base}/services/new_hire_onboarding`);
    for (const [name, value] of Object.entries(values)) await page.fill(`[name=${name}]`, value);
    await page.selectOption("[name=department]", "finance");
    await page.check("[name=employment_type][value=employee]");
    await page.selectOption("[name=location]", "chengdu");
    await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.click("form[data-form] button.primary")]);
    return page.url().split("/").pop();
  }

  // Two onboardings for one username: the second one's account step fails (the name was free
  // at submit, taken when its job ran). Returns the second request's id.
  async failedAccountStep(username) {
    await this.login("hr");
    const first = await this.submitOnboarding(username);
    const second = await this.submitOnboarding(username);
    await this.logout();
    await this.login("manager");
    for (const id of [first, second]) {
      await this.openTask(id, "manager_approval");
      await Promise.all([this.page.waitForURL(/\/inbox/), this.page.click("button.approve")]);
    }
    await this.logout();
    return second;
  }

  async waitForFailedStep(instanceId) {
    const page = this.page;
    const card = page.locator("li.card", { hasText: `#${instanceId}` });
    for (let attempt = 0; attempt < 60 && (await card.count()) === 0; attempt += 1) {
      await page.goto(`${this.base}/console/failed`);
      if ((await card.count()) === 0) await page.waitForTimeout(500);
    }
    this.check((await card.count()) === 1, `request #${instanceId} did not reach the failed steps`);
    return card;
  }

  async close(failed) {
    if (failed && this.page && !this.page.isClosed()) {
      console.error(`[${this.lang}] at ${this.page.url()}`);
      await this.page.screenshot({ path: join(this.artifacts, `${this.lang}-failure.png`), fullPage: true })
        .catch(() => {});
    }
    await this.browser.close();
    // A form sent back with errors answers 422, which Chromium logs; that is the expected page.
    const real = this.problems.filter((p) => !p.includes("favicon") && !p.includes("status of 422")
      && !p.includes("status of 404"));
    if (real.length) console.error(`[${this.lang}] browser reported:\n  ${real.join("\n  ")}`);
    return !failed && !real.length;
  }
}

export async function main(session, script, parts) {
  let failed = false;
  try {
    await session.open();
    for (const part of parts) await part(session);
  } catch (error) {
    failed = true;
    console.error(`[${session.lang}] FAILED: ${error.stack || error.message}`);
  }
  const passed = await session.close(failed);
  console.log(passed ? `[${session.lang}] ${script} passed` : `[${session.lang}] ${script} failed`);
  process.exit(passed ? 0 : 1);
}
