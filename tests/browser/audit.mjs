// The admin's audit log shows a sign-in, a failed sign-in and a download, in headless Chromium.
//
//   node tests/browser/audit.mjs <base_url> <artifacts_dir> <en|zh>
//
// Someone mistypes HR's password; HR signs in, sends an expense receipt (a PDF) and downloads it
// again from the request page; the admin opens the audit log, sees all three, filters it down
// to the failed sign-ins. Screenshots: <lang>-audit-log.png, <lang>-audit-log-filtered.png.

import { args, main, Session } from "./lib.mjs";

const session = new Session(args("audit.mjs"));
const { base, lang } = session;
const TEXT = {
  en: { signIn: "Signed in", failed: "Failed sign-in", download: "Downloaded a file" },
  zh: { signIn: "登录", failed: "登录失败", download: "下载文件" },
}[lang];
const PDF = Buffer.from("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");

async function wrongPassword(s) {
  const page = await s.newPage();
  await page.goto(`${base}/login`);
  await page.fill("#username", "hr");
  await page.fill("#password", "not-the-password");
  await Promise.all([page.waitForLoadState("load"), page.click("form button[type=submit]")]);
  s.check(new URL(page.url()).pathname === "/login", "a wrong password signed in");
  await page.context().close();
  // The refused sign-in answers 401, which Chromium logs: that is the page we asked for.
  s.problems = s.problems.filter((problem) => !problem.includes("status of 401"));
  s.step("failed sign-in");
}

async function sendAndDownload(s) {
  const page = await s.login("hr");
  await page.goto(`${base}/services/expense_receipt`);
  await page.fill("[name=purpose]", `Taxi ${s.run}`);
  await page.setInputFiles("input[type=file][name=receipt]",
    { name: `receipt-${s.run}.pdf`, mimeType: "application/pdf", buffer: PDF });
  await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.click("form[data-form] button.primary")]);
  const link = page.locator("a[href*='/files/']", { hasText: `receipt-${s.run}.pdf` }).first();
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  s.check((await download.suggestedFilename()) === `receipt-${s.run}.pdf`, "wrong file downloaded");
  s.step("receipt downloaded");
  await s.logout();
}

async function auditLog(s) {
  const page = await s.login("admin");
  await page.goto(`${base}/admin/audit`);
  const row = (kind, text) => page.locator(`tr[data-kind=${kind}]`, { hasText: text });
  s.check((await row("sign_in_failed", "hr").count()) >= 1, "no failed sign-in of hr in the log");
  s.check((await row("sign_in", "hr").count()) >= 1, "no sign-in of hr in the log");
  s.check((await row("download", `receipt-${s.run}.pdf`).count()) === 1, "no download in the log");
  await s.expectText("table.data", TEXT.failed);
  await s.expectText("table.data", TEXT.signIn);
  await s.expectText("table.data", TEXT.download);
  await s.shot("audit-log");
  await page.selectOption("#f-kind", "sign_in_failed");
  await Promise.all([page.waitForURL(/kind=sign_in_failed/), page.click("form.toolbar button[type=submit] >> nth=-1")]);
  s.check((await page.locator("tr[data-kind]").count()) === (await row("sign_in_failed", "").count()),
    "the filter let other kinds through");
  await s.shot("audit-log-filtered");
  await s.logout();
}

await main(session, "audit", [wrongPassword, sendAndDownload, auditLog]);
