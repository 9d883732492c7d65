// The day-one defects of the web, each checked in headless Chromium, then an accessibility pass
// (axe-core) and screenshots at 1366 and 390 px of the main pages.
//
//   node tests/browser/polish.mjs <base_url> <artifacts_dir> <en|zh>
//
// Exit code 0 means every check passed and axe found no serious or critical violation.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { args, HTML_LANG, main, Session } from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const session = new Session(args("polish.mjs"));
const { base, lang, run } = session;
const TEXT = {
  en: { error: "Error — ", noMatch: "No requests match", queued: "queued to run again",
        failedLabel: "Failed", skipped: "Failed step skipped", rejected: "Rejected",
        hint: "Required when you reject" },
  zh: { error: "错误 — ", noMatch: "没有与", queued: "已排队重新运行", failedLabel: "失败",
        skipped: "跳过了失败步骤", rejected: "已驳回", hint: "驳回时必填" },
}[lang];
const PHONE = { width: 390, height: 844, mobile: true };
const DESKTOP = { width: 1366, height: 900 };
const found = { violations: [] };

function check(condition, message) {
  session.check(condition, message);
}

async function fitsThePhone(page, what) {
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")].filter((el) => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.right > width + 1 && getComputedStyle(el).position !== "fixed"
        && !el.closest(".table-scroll, table.data, .diagram, pre");
    }).map((el) => `${el.tagName.toLowerCase()}.${el.className}`.slice(0, 60));
    return { scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5) };
  });
  check(overflow.scroll <= overflow.width,
    `${what} is ${overflow.scroll} px wide on a ${overflow.width} px phone: ${overflow.wide}`);
  // the main navigation wraps: a link half off screen reads as if it were not there
  const clipped = await page.evaluate(() => [...document.querySelectorAll(".mainnav a")]
    .filter((a) => a.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map((a) => a.textContent.trim()));
  check(clipped.length === 0, `${what}: main navigation links cut off on a phone: ${clipped}`);
}

async function axe(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const report = await window.axe.run(document, { resultTypes: ["violations"] });
    return report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
      target: v.nodes[0] && v.nodes[0].target.join(" ") }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) found.violations.push(`${what}: ${v.id} (${v.impact}) x${v.nodes} at ${v.target}`);
  session.step(`axe ${what}: ${result.length} finding(s), ${bad.length} serious or critical`);
}

// Each main page at both widths: fits a phone, passes axe, screenshot.
async function survey(page, name, url, prepare) {
  for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize({ width: viewport.width, height: viewport.height });
    if (url) await page.goto(url);
    if (prepare) await prepare(page);
    if (size === "phone") await fitsThePhone(page, name);
    await axe(page, `${name} (${size})`);
    await page.screenshot({ path: `${session.artifacts}/${lang}-${size}-${name}.png`, fullPage: true });
  }
}

async function requestsAndSearch() {
  const page = await session.login("hr", PHONE);
  const id = await session.submitOnboarding(`po.${run}`);
  await page.goto(`${base}/requests?q=${encodeURIComponent("nothing-like-this")}`);
  await session.expectText(".empty h2", TEXT.noMatch);
  const heading = await page.locator(".empty h2").boundingBox();
  const card = await page.locator(".card.empty").boundingBox();
  const off = Math.abs(heading.x + heading.width / 2 - (card.x + card.width / 2));
  check(off < 2, `the empty-state heading is ${off.toFixed(1)} px off centre`);
  await Promise.all([page.waitForURL(/\/requests\?state=all$/), page.click(".empty a.btn")]);
  check((await page.locator(`a[href="/requests/${id}"]`).count()) === 1, "clearing the search did not bring the request back");
  session.step("a fruitless search says so, centred, and clears");

  await page.goto(`${base}/requests/9223372036854775808`);
  check((await page.textContent(".error-page")).includes("404"), "an overlong request number is not a 404");
  session.step("an overlong request number is a 404");

  await page.goto(`${base}/services/new_hire_onboarding`);
  await page.click("form[data-form] button.primary");
  await page.waitForSelector(".error-summary");
  check((await page.title()).startsWith(TEXT.error), `the title after errors is "${await page.title()}"`);
  session.step("the title says the form came back with errors");
  await session.logout();
  return id;
}

async function inboxAndTask(id) {
  const page = await session.login("manager", PHONE);
  await page.goto(`${base}/inbox?due=week`);
  const hrefs = await page.$$eval("nav.tabs a", (links) => links.map((a) => a.getAttribute("href")));
  check(hrefs.length === 3 && hrefs.every((h) => !h.includes("Macro") && h.includes("due=week")),
    `inbox tab links: ${hrefs}`);
  const width = await page.evaluate(() => document.documentElement.clientWidth);
  for (const tab of await page.locator("nav.tabs a").all()) {
    const box = await tab.boundingBox();
    check(box.x >= 0 && box.x + box.width <= width, "an inbox tab is clipped on a phone");
  }
  session.step("inbox tabs keep the filters and fit the phone");

  await session.openTask(id, "manager_approval");
  const taskUrl = page.url();
  const text = await page.textContent("main");
  check(text.split(TEXT.hint).length === 2, "the rejection hint does not appear exactly once");
  await page.fill("[name=manager_comment]", "Not this quarter");
  await Promise.all([page.waitForURL(/\/inbox$/), page.click("button.reject")]);
  await page.goto(taskUrl);
  check((await page.locator('[data-decision="rejected"]').count()) === 1, "the closed task hides its decision");
  await session.expectText('[data-decision="rejected"]', "Not this quarter");
  session.step("the hint shows once; the closed task shows the rejection and its reason");
  await session.logout();
}

async function retryAndSkip() {
  const second = await session.failedAccountStep(`rs.${run}`);
  const page = await session.login("it_agent");
  let card = await session.waitForFailedStep(second);
  await Promise.all([page.waitForLoadState("load"), card.locator("form[action$='/retry'] button").click()]);
  await session.expectText(".flashes", TEXT.queued);
  const row = page.locator("tr[data-job]", { hasText: `#${second}` });
  check((await row.count()) >= 1, "the retried step is not listed after the retry");
  for (let attempt = 0; attempt < 40; attempt += 1) {
    if ((await page.locator(`tr[data-job][data-state="failed"]`, { hasText: `#${second}` }).count()) > 0) break;
    await page.waitForTimeout(500);  // the page reloads itself while the result is coming
  }
  check((await page.locator(`tr[data-job][data-state="failed"]`, { hasText: `#${second}` }).count()) > 0,
    "the retry's result (it fails again: the username is still taken) never showed");
  session.step("a retry says it is queued, then shows its result");

  card = await session.waitForFailedStep(second);
  await card.locator("summary", { hasText: lang === "zh" ? "跳过" : "Skip" }).click();
  await card.locator("textarea[name=result]").fill('{"username": "x", "email": "x@example.com"}');
  await Promise.all([page.waitForLoadState("load"), card.locator("form[action$='/skip'] button").click()]);
  await session.logout();

  const hr = await session.login("hr");
  await hr.goto(`${base}/requests/${second}`);
  check((await hr.locator('.timeline li[data-state="error"]').count()) === 0, "the timeline still warns of the skipped step");
  check((await hr.locator('.timeline li[data-state="resolved"]', { hasText: TEXT.skipped }).count()) === 1,
    "the skipped failure is not shown resolved by the skip");
  session.step("after a skip the requester's timeline shows the failure resolved");
  await session.logout();
}

async function signInLanguage() {
  const page = await session.newPage();
  session.page = page;
  const other = lang === "zh" ? "en" : "zh";
  await page.goto(`${base}/login`);
  await Promise.all([page.waitForLoadState("load"), page.click(`button[name=lang][value=${other}]`)]);
  await page.fill("#username", other === "zh" ? "designer" : "manager");  // saved: the other one
  await page.fill("#password", "demo");
  await Promise.all([page.waitForURL(/\/catalog/), page.click("form button[type=submit]")]);
  check((await page.getAttribute("html", "lang")) === HTML_LANG[other], "the language picked at sign-in was dropped");
  await Promise.all([page.waitForLoadState("load"), page.click(`.usermenu button[name=lang][value=${lang}]`)]);
  await page.context().close();
  session.step("the language picked on the sign-in page is kept");
}

async function diagramByTouch(id) {
  const page = await session.login("it_agent", PHONE);
  await page.goto(`${base}/console/requests/${id}`);
  await page.waitForSelector("#diagram[data-ready=true]", { timeout: 15000 });
  await fitsThePhone(page, "console");
  const before = await page.getAttribute("#diagram", "data-zoom-level");
  const viewbox = () => page.$eval("#diagram svg", (svg) => svg.querySelector(".viewport").getAttribute("transform"));
  const moved0 = await viewbox();
  await page.evaluate(() => {
    const el = document.getElementById("diagram");
    const box = el.getBoundingClientRect();
    const fire = (type, id, x, y) => el.dispatchEvent(new PointerEvent(type, {
      pointerId: id, pointerType: "touch", clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true }));
    fire("pointerdown", 1, 100, 100); fire("pointermove", 1, 140, 120); fire("pointerup", 1, 140, 120);
    fire("pointerdown", 1, 150, 150); fire("pointerdown", 2, 200, 150);
    fire("pointermove", 1, 120, 150); fire("pointermove", 2, 240, 150);
    fire("pointerup", 1, 120, 150); fire("pointerup", 2, 240, 150);
  });
  check((await viewbox()) !== moved0, "a finger drag did not move the diagram");
  const pinched = await page.evaluate(() => document.getElementById("diagram").getAttribute("data-zoom-level"));
  await page.click("[data-zoom=in]");
  const zoomed = await page.getAttribute("#diagram", "data-zoom-level");
  check(parseFloat(zoomed) > parseFloat(before), `zooming did not zoom (${before} -> ${pinched} -> ${zoomed})`);
  session.step("the diagram pans by touch and zooms");
  await session.logout();
}

async function accessibility(id) {
  let page = await session.login("hr");
  await survey(page, "catalog", `${base}/catalog`);
  await survey(page, "form-errors", `${base}/services/new_hire_onboarding`, async (p) => {
    await p.click("form[data-form] button.primary");
    await p.waitForSelector(".error-summary");
  });
  await survey(page, "timeline", `${base}/requests/${id}`);
  await survey(page, "my-requests", `${base}/requests`);
  await session.logout();
  const second = await session.submitOnboardingAs("hr");
  page = await session.login("manager");
  await survey(page, "inbox", `${base}/inbox`);
  await session.openTask(second, "manager_approval");
  const taskUrl = page.url();
  await survey(page, "task", taskUrl);
  await session.logout();
  page = await session.login("it_agent");
  await survey(page, "console", `${base}/console/requests/${second}`, (p) =>
    p.waitForSelector("#diagram[data-ready=true]", { timeout: 15000 }));
  await survey(page, "failed-steps", `${base}/console/failed`);
  await session.logout();
  check(found.violations.length === 0, `axe found:\n  ${found.violations.join("\n  ")}`);
}

Session.prototype.submitOnboardingAs = async function (username) {
  await this.login(username);
  const id = await this.submitOnboarding(`ax.${this.run}`);
  await this.logout();
  return id;
};

let requestId;
main(session, "polish", [
  async () => { requestId = await requestsAndSearch(); },
  async () => inboxAndTask(requestId),
  retryAndSkip,
  signInLanguage,
  async () => diagramByTouch(requestId),
  async () => accessibility(requestId),
]);
