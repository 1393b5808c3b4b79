// topupd operations console: reads and acts only through the admin JSON API (spec §7).
// Everything shown that came from outside (order details, supplier answers, merchant bodies)
// is set as text, never as markup.
'use strict';

const TEXT = {
  zh: {
    title: 'topupd 运营控制台', logout: '退出', login_title: '输入管理令牌',
    login_hint: '令牌只保存在本标签页中，随每个请求发送。', token: '管理令牌', login: '登录',
    bad_token: '令牌无效', orders_per_s: '每秒订单（最近 10 分钟）',
    chart_empty: '采样中：每 5 秒一个点。', exceptions: '异常订单', kind: '类型', all: '全部',
    kind_unresolved: '上游无结果', kind_callback_failed: '回调失败', kind_channel_removed: '渠道已移除',
    kind_overdue: '超时未退款', order_number: '订单号', merchant: '商户', since: '开始时间',
    channel: '渠道', status: '状态', detail: '详情', actions: '操作', none: '无', channels: '渠道',
    kind_col: '接口', state: '状态', breaker: '熔断', in_flight: '在途', submits: '提交',
    success_rate: '成功率', merchants: '商户余额', balance: '余额', credits: '充值', debits: '扣款',
    refunds: '退款', order_lookup: '订单查询', look_up: '查询', events: '事件',
    callback_deliveries: '回调记录', accepted: '已受理', succeeded: '成功', refunded: '已退款',
    refused: '已拒绝', orders_in_flight: '处理中', callbacks_given_up: '回调放弃',
    callbacks_in_flight: '回调发送中', redis_p99: 'Redis p99', enabled: '启用', disabled: '停用',
    enable: '启用', disable: '停用', settle: '人工处理', settle_success: '成功', settle_failed: '失败',
    evidence: '凭证（供应商工单/凭证号）', confirm: '确认', cancel: '取消', renotify: '重新通知',
    credit: '加款', amount: '金额（元）', ref: '流水号', view: '查看', updated: '更新于',
    instance: '实例', shards: '分片', open: '熔断', closed: '正常', partly: '部分熔断',
    callbacks_owed: '待回调', live_instances: '在线实例', lease_lost: '租约丢失', need_evidence: '请填写凭证',
    done: '完成', failed_action: '失败', status_0: '等待', status_1: '充值中', status_2: '成功',
    status_3: '失败', status_4: '已退款', status_6: '等待渠道', status_7: '提交中', time: '时间',
    event: '事件', fields: '字段', attempt: '次数', http_status: 'HTTP', body: '应答',
    error: '错误', delivered: '已送达', yes: '是', no: '否', sandbox: '测试',
  },
  en: {
    title: 'topupd operations console', logout: 'Log out', login_title: 'Enter the admin token',
    login_hint: 'The token stays in this tab only and is sent with each request.',
    token: 'admin token', login: 'Log in', bad_token: 'Token not accepted',
    orders_per_s: 'Orders per second (last 10 minutes)',
    chart_empty: 'Sampling: one point every 5 seconds.', exceptions: 'Exception queue',
    kind: 'Kind', all: 'All', kind_unresolved: 'No supplier result',
    kind_callback_failed: 'Callback failed', kind_channel_removed: 'Channel removed',
    kind_overdue: 'Overdue, not refunded', order_number: 'Order number', merchant: 'Merchant',
    since: 'Since', channel: 'Channel', status: 'Status', detail: 'Detail', actions: 'Actions',
    none: 'None', channels: 'Channels', kind_col: 'Kind', state: 'State', breaker: 'Breaker',
    in_flight: 'In flight', submits: 'Submits', success_rate: 'Success rate',
    merchants: 'Merchant balances', balance: 'Balance', credits: 'Credits', debits: 'Debits',
    refunds: 'Refunds', order_lookup: 'Order lookup', look_up: 'Look up', events: 'Events',
    callback_deliveries: 'Callback deliveries', accepted: 'Accepted', succeeded: 'Succeeded',
    refunded: 'Refunded', refused: 'Refused', orders_in_flight: 'In flight',
    callbacks_given_up: 'Callbacks given up', callbacks_in_flight: 'Callbacks sending',
    redis_p99: 'Redis p99', enabled: 'enabled', disabled: 'disabled', enable: 'Enable',
    disable: 'Disable', settle: 'Settle', settle_success: 'success', settle_failed: 'failed',
    evidence: 'evidence (supplier ticket / voucher)', confirm: 'Confirm', cancel: 'Cancel',
    renotify: 'Re-notify', credit: 'Credit', amount: 'amount (yuan)', ref: 'ref', view: 'View',
    updated: 'updated', instance: 'instance', shards: 'shards', open: 'open', closed: 'closed',
    partly: 'open on some shards', callbacks_owed: 'Callbacks owed',
    live_instances: 'live instances', lease_lost: 'LEASE LOST',
    need_evidence: 'Evidence is required', done: 'Done', failed_action: 'Failed',
    status_0: 'waiting', status_1: 'topping up', status_2: 'succeeded', status_3: 'failed',
    status_4: 'refunded', status_6: 'waiting for a channel', status_7: 'submitting', time: 'Time',
    event: 'Event', fields: 'Fields', attempt: 'Attempt', http_status: 'HTTP', body: 'Answer',
    error: 'Error', delivered: 'Delivered', yes: 'yes', no: 'no', sandbox: 'sandbox',
  },
};

const TOKEN_KEY = 'topupd.console.token';
const LANG_KEY = 'topupd.console.lang';
const REFRESH_MS = 3000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  lang: localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh',
  summary: null, exceptions: null, merchants: null, order: null,
  openForm: null,  // 'settle:<order>' or 'credit:<merchant>': kept open across refreshes
  chart: null, timer: null, busy: false,
};

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key] ?? key;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function toast(message, isError) {
  const box = $('toast');
  box.textContent = message;
  box.className = isError ? 'error' : '';
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

class ApiError extends Error {
  constructor(code, msg) { super(`${code} ${msg}`); this.code = code; }
}

async function api(method, path, form) {
  const init = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (form) {
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const res = await fetch(path, init);
  let body;
  try { body = await res.json(); } catch { throw new ApiError('HTTP', String(res.status)); }
  if (body.code === '4001') { logout(t('bad_token')); throw new ApiError(body.code, body.msg); }
  if (body.code !== '0000') throw new ApiError(body.code, body.msg);
  return body.data;
}

// In the business day's timezone (statements.timezone), like `since` and the statements.
function fmtTime(ms) {
  if (!ms) return '';
  const offset = state.summary ? state.summary.tz_offset_s : 0;
  const d = new Date(Number(ms) + offset * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
         `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
const fmtMs = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ms';
const statusText = (s) => `${s} ${t('status_' + s)}`;

// ---- rendering --------------------------------------------------------------------------

function applyStaticText() {
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll('[data-i18n-placeholder]'))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  $('lang-toggle').textContent = state.lang === 'zh' ? 'English' : '中文';
}

function renderCards() {
  const s = state.summary;
  const cards = $('cards');
  cards.replaceChildren();
  if (!s) return;
  const exceptions = state.exceptions ? state.exceptions.total : 0;
  const items = [
    ['accepted', s.orders.accepted], ['succeeded', s.orders.succeeded],
    ['refunded', s.orders.refunded], ['refused', s.orders.refused],
    ['orders_in_flight', s.orders.in_flight], ['exceptions', exceptions],
    ['callbacks_owed', s.callbacks.owed], ['callbacks_given_up', s.callbacks.given_up],
    ['redis_p99', fmtMs(s.redis.p99_ms)],
  ];
  for (const [key, value] of items)
    cards.append(el('div', { class: 'card', 'data-figure': key },
      el('div', { class: 'label', text: t(key) }),
      el('div', { class: 'value', id: `fig-${key}`, text: String(value) })));
  $('instance').textContent = `${t('instance')} ${s.instance_id} · ${s.shards} ${t('shards')} · ` +
    `${s.live_instances} ${t('live_instances')}` + (s.lease_held ? '' : ` · ${t('lease_lost')}`);
  $('updated').textContent = `${t('updated')} ${fmtTime(s.at_ms)}`;
}

// Per-second rates between samples; the summary's own counters are the last point, so the
// chart reaches "now" between the server's samples.
function rates(summary) {
  const o = summary.orders;
  const history = summary.history.concat([{ at_ms: summary.at_ms, accepted: o.accepted,
    succeeded: o.succeeded, refunded: o.refunded, refused: o.refused }]);
  const xs = [], series = { accepted: [], succeeded: [], refunded: [], refused: [] };
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1], b = history[i];
    const dt = (b.at_ms - a.at_ms) / 1000;
    if (dt <= 0) continue;
    xs.push(b.at_ms / 1000);
    for (const k of Object.keys(series)) series[k].push(Math.max(0, (b[k] - a[k]) / dt));
  }
  return [xs, series.accepted, series.succeeded, series.refunded, series.refused];
}

function renderChart() {
  const s = state.summary;
  if (!s) return;
  const data = rates(s);
  $('chart-empty').hidden = data[0].length >= 2;
  const box = $('chart-orders');
  const width = Math.max(320, box.clientWidth || 800);
  const labels = ['accepted', 'succeeded', 'refunded', 'refused'].map(t);
  if (state.chart && state.chart.lang !== state.lang) { state.chart.destroy(); state.chart = null; }
  if (!state.chart) {
    const colors = ['#0969da', '#1a7f37', '#9a6700', '#cf222e'];
    state.chart = new uPlot({
      width, height: 240,
      // Always the last 10 minutes up to the latest figures, however few points there are yet.
      scales: { x: { time: true, range: () => [state.summary.at_ms / 1000 - 600, state.summary.at_ms / 1000] } },
      // The axis in the business day's timezone too: a local Date showing that wall clock.
      tzDate: (ts) => {
        const d = new Date((ts + state.summary.tz_offset_s) * 1000);
        return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(),
                        d.getUTCMinutes(), d.getUTCSeconds());
      },
      series: [{}].concat(labels.map((label, i) => ({
        label, stroke: colors[i], width: 2, value: (u, v) => (v == null ? '-' : v.toFixed(2) + '/s'),
      }))),
      axes: [{}, { values: (u, vals) => vals.map((v) => v + '/s') }],
    }, data, box);
    state.chart.lang = state.lang;
  } else {
    state.chart.setData(data);
    if (Math.abs(state.chart.width - width) > 4) state.chart.setSize({ width, height: 240 });
  }
}

function actionButton(label, onclick, cls) {
  return el('button', { type: 'button', class: cls, text: label, onclick });
}

function renderChannels() {
  const body = $('channels-table').tBodies[0];
  body.replaceChildren();
  if (!state.summary) return;
  for (const c of state.summary.channels) {
    const rate = c.success_rate == null ? '—' : (c.success_rate * 100).toFixed(1) + '%';
    const breaker = t(c.breaker);
    const inflight = `${c.in_flight} / ${c.max_inflight}`;
    body.append(el('tr', { 'data-channel': c.id },
      el('td', { text: c.id }), el('td', { text: c.kind }),
      el('td', { class: c.enabled ? 'state-on' : 'state-off', text: t(c.enabled ? 'enabled' : 'disabled') }),
      el('td', { class: c.breaker !== 'closed' ? 'state-open' : '', text: breaker }),
      el('td', { class: 'num', text: inflight }), el('td', { class: 'num', text: String(c.submits) }),
      el('td', { class: 'num', text: rate }),
      el('td', { class: 'num', text: `${fmtMs(c.latency_p50_ms)} / ${fmtMs(c.latency_p99_ms)}` }),
      el('td', {}, actionButton(t(c.enabled ? 'disable' : 'enable'),
        () => act('POST', `/admin/channels/${encodeURIComponent(c.id)}/${c.enabled ? 'disable' : 'enable'}`),
        c.enabled ? 'danger' : 'primary'))));
  }
}

function settleForm(order) {
  const evidence = el('input', { name: 'evidence', placeholder: t('evidence') });
  const result = el('select', { name: 'result' },
    el('option', { value: 'success', text: t('settle_success') }),
    el('option', { value: 'failed', text: t('settle_failed') }));
  const submit = async () => {
    if (!evidence.value.trim()) { toast(t('need_evidence'), true); return; }
    state.openForm = null;
    await act('POST', `/admin/orders/${encodeURIComponent(order)}/settle`,
              { result: result.value, evidence: evidence.value.trim() });
  };
  return el('div', { class: 'inline-form', 'data-form': `settle:${order}` }, result, evidence,
    actionButton(t('confirm'), submit, 'primary'),
    actionButton(t('cancel'), () => { state.openForm = null; renderExceptions(); }));
}

function renderExceptions() {
  const body = $('exceptions-table').tBodies[0];
  body.replaceChildren();
  const page = state.exceptions;
  const total = page ? page.total : 0;
  $('exceptions-total').textContent = String(total);
  $('exceptions-total').className = total ? 'badge' : 'badge zero';
  $('exceptions-empty').hidden = total > 0;
  if (!page) return;
  for (const e of page.list) {
    const actions = el('td', {});
    actions.append(actionButton(t('view'), () => lookUp(e.order_number)));
    if (e.settleable)
      actions.append(actionButton(t('settle'), () => {
        state.openForm = `settle:${e.order_number}`;
        renderExceptions();
      }, 'primary'));
    if (e.kind === 'callback_failed')
      actions.append(actionButton(t('renotify'),
        () => act('POST', `/admin/orders/${encodeURIComponent(e.order_number)}/notify`)));
    body.append(el('tr', { 'data-order': e.order_number },
      el('td', { text: e.order_number }), el('td', { text: String(e.merchant_id) }),
      el('td', { text: t('kind_' + e.kind) }), el('td', { text: e.since }),
      el('td', { text: e.channel }), el('td', { text: statusText(e.status) }),
      el('td', { class: 'detail', text: e.detail }), actions));
    if (state.openForm === `settle:${e.order_number}`)
      body.append(el('tr', {}, el('td', { colspan: 8 }, settleForm(e.order_number))));
  }
}

function creditForm(merchant) {
  const amount = el('input', { name: 'amount', placeholder: t('amount'), size: 10 });
  const ref = el('input', { name: 'ref', placeholder: t('ref'), size: 18,
                            value: `console-${merchant}-${Date.now()}` });
  const submit = async () => {
    state.openForm = null;
    await act('POST', `/admin/merchants/${merchant}/credit`, { amount: amount.value.trim(), ref: ref.value.trim() });
  };
  return el('div', { class: 'inline-form', 'data-form': `credit:${merchant}` }, amount, ref,
    actionButton(t('confirm'), submit, 'primary'),
    actionButton(t('cancel'), () => { state.openForm = null; renderMerchants(); }));
}

function renderMerchants() {
  const body = $('merchants-table').tBodies[0];
  body.replaceChildren();
  if (!state.merchants) return;
  for (const m of state.merchants.list) {
    const name = m.sandbox ? `${m.id} (${t('sandbox')})` : String(m.id);
    body.append(el('tr', { 'data-merchant': m.id },
      el('td', { text: name }), el('td', { class: 'num', text: m.balance }),
      el('td', { class: 'num', text: m.credits }), el('td', { class: 'num', text: m.debits }),
      el('td', { class: 'num', text: m.refunds }),
      el('td', {}, actionButton(t('credit'), () => { state.openForm = `credit:${m.id}`; renderMerchants(); }))));
    if (state.openForm === `credit:${m.id}`)
      body.append(el('tr', {}, el('td', { colspan: 6 }, creditForm(m.id))));
  }
}

function renderOrder() {
  const o = state.order;
  $('order-detail').hidden = !o;
  if (!o) return;
  const fields = $('order-fields').tBodies[0];
  fields.replaceChildren();
  const shown = ['order_number', 'order_no', 'merchant_id', 'mobile', 'money', 'cost_fen', 'status',
                 'reason', 'detail', 'source', 'change', 'notify_url', 'created_at', 'updated_at_ms'];
  for (const key of shown) {
    if (!(key in o)) continue;
    const value = key === 'status' ? statusText(o.status) : key === 'updated_at_ms' ? fmtTime(o[key]) : String(o[key]);
    fields.append(el('tr', {}, el('th', { text: key }), el('td', { text: value })));
  }
  for (const [k, v] of Object.entries(o.extra || {}))
    fields.append(el('tr', {}, el('th', { text: k }), el('td', { text: String(v) })));
  const events = $('order-events').tBodies[0];
  events.replaceChildren(el('tr', {}, el('th', { text: 'id' }), el('th', { text: t('event') }),
                                      el('th', { text: t('fields') })));
  for (const e of o.events || []) {
    const rest = Object.entries(e).filter(([k]) => k !== 'id' && k !== 'type' && k !== 'e')
      .map(([k, v]) => `${k}=${v}`).join('  ');
    events.append(el('tr', {}, el('td', { text: e.id }), el('td', { text: e.type ?? e.e ?? '' }),
                      el('td', { class: 'detail', text: rest })));
  }
  const callbacks = $('order-callbacks').tBodies[0];
  callbacks.replaceChildren(el('tr', {}, ...['attempt', 'time', 'http_status', 'delivered', 'body', 'error']
    .map((k) => el('th', { text: t(k) }))));
  for (const c of o.callbacks || [])
    callbacks.append(el('tr', {}, el('td', { text: String(c.attempt) }), el('td', { text: fmtTime(c.at_ms) }),
      el('td', { text: String(c.http_status) }), el('td', { text: t(c.delivered ? 'yes' : 'no') }),
      el('td', { class: 'detail', text: c.body }), el('td', { class: 'detail', text: c.error })));
}

function renderAll() {
  applyStaticText();
  renderCards();
  renderChart();
  renderChannels();
  renderExceptions();
  renderMerchants();
  renderOrder();
}

// ---- data ---------------------------------------------------------------------------------

async function refresh() {
  if (state.busy || !state.token) return;
  state.busy = true;
  try {
    const kind = $('exceptions-kind').value;
    const query = new URLSearchParams({ page_size: '50' });
    if (kind) query.set('kind', kind);
    const [summary, exceptions, merchants] = await Promise.all([
      api('GET', '/admin/summary'), api('GET', `/admin/exceptions?${query}`), api('GET', '/admin/merchants')]);
    Object.assign(state, { summary, exceptions, merchants });
    // A form being filled in is not redrawn under the operator's cursor.
    if (!state.openForm) renderAll(); else { renderCards(); renderChart(); renderChannels(); }
  } catch (e) {
    if (state.token) toast(`${t('failed_action')}: ${e.message}`, true);
  } finally {
    state.busy = false;
  }
}

async function act(method, path, form) {
  try {
    const data = await api(method, path, form);
    toast(`${t('done')}: ${path.replace('/admin/', '')}${data && data.money ? ' → ' + data.money : ''}`);
  } catch (e) {
    toast(`${t('failed_action')}: ${e.message}`, true);
  }
  state.openForm = null;
  await refresh();
  if (state.order) await lookUp(state.order.order_number, true);
}

async function lookUp(number, quiet) {
  number = (number || '').trim();
  if (!number) return;
  $('order-input').value = number;
  try {
    state.order = await api('GET', `/admin/orders/${encodeURIComponent(number)}`);
  } catch (e) {
    state.order = null;
    if (!quiet) toast(`${t('failed_action')}: ${e.message}`, true);
  }
  renderOrder();
  if (!quiet && state.order) $('order-detail').scrollIntoView({ block: 'start' });
}

// ---- session ------------------------------------------------------------------------------

async function login(token) {
  state.token = token;
  try {
    await api('GET', '/admin/summary');
  } catch (e) {
    if (state.token) logout(e.code === '4001' ? t('bad_token') : e.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, REFRESH_MS);
}

function logout(message) {
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').hidden = !message;
  $('login-error').textContent = message || '';
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('token-input').value.trim();
  if (token) login(token);
});
$('logout').addEventListener('click', () => logout());
$('lang-toggle').addEventListener('click', () => {
  state.lang = state.lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem(LANG_KEY, state.lang);
  renderAll();
});
$('exceptions-kind').addEventListener('change', refresh);
$('order-form').addEventListener('submit', (ev) => { ev.preventDefault(); lookUp($('order-input').value); });
window.addEventListener('resize', () => renderChart());

applyStaticText();
if (state.token) login(state.token);
