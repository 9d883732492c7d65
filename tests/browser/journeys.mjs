// The two journeys of the web issue, clicked through in headless Chromium with playwright-core.
//
//   node tests/browser/journeys.mjs <base_url> <artifacts_dir> <en|zh>
//
// 1. HR finds "new hire IT onboarding" by search, submits with one invalid field (sees the
//    message, nothing lost), fixes it; the manager approves from the inbox; IT completes the
//    laptop step; HR sees the timeline reach "done".
// 2. The store manager requests a store opening; IT Leads reject it with a reason; the
//    requester sees "rejected" and the reason.
// 3. Two onboardings ask for the same username; the second one's account step fails; an agent
//    corrects the username on the failed-steps page and retries; the request goes on.
// 4. A designer imports a Camunda Modeler file (process id Process_1, a user task with
//    camunda:candidateGroups="managers" and formData); a request of it lands in the manager's
//    inbox, and the manager approves it there; the request runs to its end.
// Screenshots of each page go to <artifacts_dir>/<lang>-*.png. Exit code 0 means both passed.

import { readFile } from "node:fs/promises";

import { args, main, Session } from "./lib.mjs";

const session = new Session(args("journeys.mjs"));
const { base, lang, run } = session;
const TEXT = {
  en: {
    htmlLang: "en",
    search: "onboarding",
    onboarding: "New-hire IT onboarding",
    storeSearch: "new store",
    store: "New store opening IT readiness",
    submit: "Submit request",
    required: "This field is required.",
    pattern: "This does not match the expected format.",
    approve: "Approve",
    reject: "Reject",
    done: "Done",
    rejected: "Rejected",
    rejectNeedsReason: "Say why you reject the request.",
    reason: "Opening date clashes with the network freeze; please move it.",
    reasonPart: "network freeze",
    titlePart: "Onboarding Wei",
    instructionsPart: "(Backend engineer, Engineering), starting 2099-06-01 in Shanghai.",
    diagramStep: "Approve onboarding",
    corrected: "The corrected step will run again",
    resolved: "Failed step corrected and retried",
  },
  zh: {
    htmlLang: "zh-CN",
    search: "入职",
    onboarding: "新员工 IT 入职",
    storeSearch: "开业",
    store: "新店开业 IT 筹备",
    submit: "提交申请",
    required: "此项为必填项。",
    pattern: "格式不正确。",
    approve: "批准",
    reject: "驳回",
    done: "已完成",
    rejected: "已驳回",
    rejectNeedsReason: "请说明驳回的原因。",
    reason: "开业日期与网络封网期冲突，请顺延一周。",
    reasonPart: "网络封网期",
    titlePart: "入职：",
    instructionsPart: "（Backend engineer，研发）的入职申请：2099-06-01 入职，工作地点 上海。",
    diagramStep: "审批新员工入职",
    corrected: "已更正，该步骤将重新运行",
    resolved: "失败步骤已更正并重试",
  },
}[session.lang];

const step = (message) => session.step(message);
const check = (condition, message) => session.check(condition, message);
const shot = (name, options) => session.shot(name, options);
const expectText = (selector, text) => session.expectText(selector, text);
const openTask = (instanceId, bpmnId) => session.openTask(instanceId, bpmnId);
const logout = () => session.logout();
let page;

async function login(username) {
  page = await session.login(username);
}

async function waitForOutcome(url, outcome) {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    await page.goto(url);
    if ((await page.locator(`.outcome[data-outcome="${outcome}"]`).count()) > 0) return;
    await page.waitForTimeout(500);
  }
  throw new Error(`request ${url} did not reach "${outcome}"`);
}

async function onboarding() {
  const last = `Zhang${run}`;
  await login("hr");
  await page.goto(`${base}/catalog`);
  await shot("catalog");
  await page.fill("#q", TEXT.search);
  await Promise.all([page.waitForURL(/q=/), page.press("#q", "Enter")]);
  const tile = page.locator("a.tile", { hasText: TEXT.onboarding });
  check((await tile.count()) === 1, "search did not find the onboarding service");
  check((await page.locator("a.tile").count()) === 1, "search found more than the onboarding service");
  await Promise.all([page.waitForURL(/\/services\/new_hire_onboarding/), tile.click()]);
  step("found onboarding by search");

  await page.fill("[name=first_name]", "Wei");
  await page.fill("[name=last_name]", last);
  await page.fill("[name=username]", "Wei Zhang");  // invalid: spaces and capitals
  await page.fill("[name=personal_email]", "wei@example.com");
  await page.selectOption("[name=department]", "engineering");
  await page.fill("[name=role]", "Backend engineer");
  await page.fill("[name=start_date]", "2099-06-01");
  await page.check("[name=employment_type][value=employee]");
  await page.selectOption("[name=location]", "shanghai");
  await page.click("form[data-form] button.primary");
  await page.waitForSelector(".error-summary");
  await expectText("[data-field=username] .field-error", TEXT.pattern);
  check((await page.locator(".field-error").count()) === 1, "more than one field has an error");
  check((await page.inputValue("[name=last_name]")) === last, "the last name was lost");
  check((await page.inputValue("[name=username]")) === "Wei Zhang", "the invalid username was lost");
  check((await page.inputValue("[name=department]")) === "engineering", "the department was lost");
  check((await page.inputValue("[name=start_date]")) === "2099-06-01", "the start date was lost");
  check(await page.isChecked("[name=employment_type][value=employee]"), "the employment type was lost");
  await shot("form-errors");
  step("saw the field message, nothing lost");

  await page.fill("[name=username]", `wei.${run}`);
  await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.click("form[data-form] button.primary")]);
  const requestUrl = page.url();
  const instanceId = requestUrl.split("/").pop();
  await page.waitForSelector(".timeline li.current");
  step(`submitted ${requestUrl}`);
  await logout();

  await login("manager");
  await page.goto(`${base}/inbox`);
  await shot("inbox");
  await openTask(instanceId, "manager_approval");
  await expectText(".req-meta", TEXT.titlePart);
  await expectText(".instructions", TEXT.instructionsPart);
  await shot("task-approval");
  await Promise.all([page.waitForURL(/\/inbox/), page.click(`button.approve`)]);
  await expectText(".flashes", lang === "zh" ? "已完成" : "completed");
  step("manager approved");
  await logout();

  await login("it_agent");
  await page.goto(`${base}/console/requests/${instanceId}`);
  await page.waitForSelector("#diagram[data-ready=true]", { timeout: 15000 });
  check((await page.locator(".djs-element.st-done").count()) >= 3, "the diagram shows no done steps");
  check((await page.locator(".djs-element.st-current").count()) >= 1, "the diagram shows no current step");
  await expectText("#diagram", TEXT.diagramStep);
  await shot("diagram");
  await openTask(instanceId, "prepare_laptop");
  await page.fill("[name=asset_tag]", "LT-004211");
  await page.selectOption("[name=laptop_model]", "thinkpad_t14");
  await Promise.all([page.waitForURL(/\/inbox/), page.click("form[data-form] button.primary")]);
  step("IT completed the laptop step");
  await logout();

  await login("hr");
  await waitForOutcome(requestUrl, "complete");
  await expectText(".outcome", TEXT.done);
  check((await page.locator(".timeline li.current").count()) === 0, "a step is still current");
  check((await page.locator(".timeline li.done").count()) >= 3, "the timeline lacks done steps");
  await shot("timeline-done");
  step("requester saw the timeline reach done");
  await logout();
}

async function storeOpening() {
  const name = `Taikoo Li ${run}`;
  await login("requester");
  await page.goto(`${base}/catalog?q=${encodeURIComponent(TEXT.storeSearch)}`);
  const tile = page.locator("a.tile", { hasText: TEXT.store });
  check((await tile.count()) === 1, "search did not find the store opening service");
  await Promise.all([page.waitForURL(/\/services\/store_opening_it_readiness/), tile.click()]);
  await page.fill("[name=store_id]", "S0123");
  await page.selectOption("[name=region]", "west");
  await page.fill("[name=address]", "1 Zhongshamao Street, Chengdu");
  await page.fill("[name=opening_date]", "2099-07-01");
  await page.click("form[data-form] button.primary");  // store name left empty
  await page.waitForSelector(".error-summary");
  await expectText("[data-field=store_name] .field-error", TEXT.required);
  check((await page.inputValue("[name=address]")) === "1 Zhongshamao Street, Chengdu", "the address was lost");
  check((await page.inputValue("[name=region]")) === "west", "the region was lost");
  await page.fill("[name=store_name]", name);
  await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.click("form[data-form] button.primary")]);
  const requestUrl = page.url();
  const instanceId = requestUrl.split("/").pop();
  step(`store opening submitted ${requestUrl}`);
  await logout();

  await login("manager");
  await openTask(instanceId, "plan_review");
  await page.click("button.reject");  // without a reason first
  await page.waitForSelector(".error-summary");
  await expectText("[data-field=plan_comment] .field-error", TEXT.rejectNeedsReason);
  await page.fill("[name=plan_comment]", TEXT.reason);
  await Promise.all([page.waitForURL(/\/inbox/), page.click("button.reject")]);
  step("IT lead rejected with a reason");
  await logout();

  await login("requester");
  await waitForOutcome(requestUrl, "rejected");
  await expectText(".outcome", TEXT.rejected);
  await expectText(".outcome", TEXT.reasonPart);
  await shot("timeline-rejected");
  await page.goto(`${base}/requests`);
  await shot("my-requests");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/catalog`);
  await shot("catalog-phone");
  step("requester saw the rejection and its reason");
  await logout();
}

async function correctedStep() {
  const username = `li.${run}`;
  const second = await session.failedAccountStep(username);  // free at submit, taken later
  step(`the second onboarding for ${username}, #${second}, failed its account step`);

  await login("it_agent");
  const card = await session.waitForFailedStep(second);
  await card.locator("summary", { hasText: lang === "zh" ? "更正" : "Correct" }).click();
  const field = card.locator("input[name='data.username']");
  check((await field.inputValue()) === username, "the correction form does not show the username");
  await field.fill(`${username}.2`);
  await shot("failed-step-correct");
  await Promise.all([page.waitForLoadState("load"), card.locator("button", { hasText: lang === "zh" ? "保存并重试" : "Save and retry" }).click()]);
  await expectText(".flashes", TEXT.corrected);
  step("the agent corrected the username and retried");
  const requestUrl = `${base}/requests/${second}`;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    await page.goto(requestUrl);
    if ((await page.locator(".timeline li.current", { hasText: lang === "zh" ? "准备笔记本电脑" : "Prepare laptop" }).count()) > 0) break;
    await page.waitForTimeout(500);
  }
  await expectText(".timeline", TEXT.resolved);
  check((await page.locator(".outcome").count()) === 0, "the request still says something went wrong");
  await shot("failed-step-resolved");
  step("the request went on with the corrected username");
  await logout();
}

async function api(path, user, options = {}) {
  const response = await fetch(`${base}/api/v1${path}`, {
    ...options,
    headers: { Authorization: `Bearer demo-${user}`, ...(options.headers || {}) },
  });
  check(response.status < 300, `${path} answered ${response.status}: ${await response.clone().text()}`);
  return response.json();
}

async function camundaCandidateGroup() {
  const file = "camunda_purchase_approval.bpmn";
  const xml = await readFile(new URL(`../corpus/${file}`, import.meta.url));
  const version = await api(`/processes?filename=${file}`, "designer", {
    method: "POST", headers: { "Content-Type": "application/xml" }, body: xml,
  });
  check(version.process_key === "process_1" && version.process_id === "Process_1", "the key was not derived");
  const started = await api("/instances", "requester", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ offering: "process_1", data: {} }),
  });
  step(`a Camunda Modeler file deployed as process_1; request #${started.id} started`);

  await login("manager");
  await openTask(started.id, "Task_approve");  // found in the manager's inbox
  await page.check("[name=approved]");
  await page.fill("[name=comment]", `Approved in run ${run}`);
  await shot("camunda-task");
  await Promise.all([page.waitForURL(/\/inbox/), page.click("button.primary")]);
  step("the manager completed the managers' Camunda task from the inbox");
  let instance;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    instance = await api(`/instances/${started.id}`, "admin");
    if (instance.status === "complete") break;
    await page.waitForTimeout(500);
  }
  check(instance.status === "complete", `request #${started.id} is ${instance.status}`);
  const ended = instance.events.filter((e) => e.kind === "completed").map((e) => e.bpmn_id);
  check(ended.join() === "EndEvent_approved", `request ended at ${ended}`);
  await logout();
}

main(session, "journeys", [onboarding, storeOpening, correctedStep, camundaCandidateGroup]);
