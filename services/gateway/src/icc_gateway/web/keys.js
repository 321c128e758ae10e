// The keyboard: one map of shortcuts (shown with `?`), and a command line (Ctrl+K or F4) for
// what a dispatcher with a phone at the ear types faster than they click. Commands act on the
// incident open in the panel (else the one selected in the queue) through the same API calls
// as the buttons.
import { api } from './api.js';
import { h, uuid } from './dom.js';
import { label, t } from './i18n.js';
import { UNIT_STATUSES } from './model.js';
import { fold } from './text.js';

/** The shortcuts, as shown in the help: [keys, message key]. */
export const SHORTCUTS = [
  ['N · F2', 'keys.new_call'],
  ['/ · F3', 'keys.search'],
  ['Ctrl+K · F4', 'keys.command'],
  ['↑ ↓ · Enter', 'keys.queue'],
  ['Q', 'keys.queue_focus'],
  ['A', 'keys.ack'],
  ['E', 'keys.edit'],
  ['Esc', 'keys.close'],
  ['?', 'keys.help'],
];

/** The command line's commands: [verbs, message key of the usage]. Vietnamese words too. */
const COMMANDS = [
  [['assign', 'dieu', 'd'], 'cmd.usage.assign'],
  [['status', 'trangthai', 'tt'], 'cmd.usage.status'],
  [['note', 'ghichu', 'gc'], 'cmd.usage.note'],
  [['priority', 'uutien', 'p'], 'cmd.usage.priority'],  // also p1 … p4
  [['close', 'ketthuc', 'kt'], 'cmd.usage.close'],
  [['open', 'mo'], 'cmd.usage.open'],
];

/** Whether a key press goes to a field the user types in (then letters are text). */
function typing(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'submit', 'reset'].includes(target.type);
}

class CommandError extends Error {}

/** The keyboard map: the handlers of app.js by name. */
export class Keyboard {
  /** ctx: {newCall(), search(), closeTop() -> bool, ackAlert(), edit(), focusQueue(),
   * incidentId() -> id | null, picture, openIncident(id), info(text), errorText(err), user()} */
  constructor(ctx) {
    this.ctx = ctx;
    this.help = this.buildHelp();
    this.cmd = this.buildCommandLine();
    // Whether Esc found an open list (calltake.js closes it before the key reaches us).
    this.listOpen = false;
    document.addEventListener('keydown', (e) => (this.listOpen = e.target instanceof Element && e.target.getAttribute('aria-expanded') === 'true'), true);
    document.addEventListener('keydown', (e) => this.onKey(e));
  }

  onKey(e) {
    if (e.defaultPrevented || e.isComposing || !this.ctx.user()) return;
    const key = e.key;
    const plain = !e.ctrlKey && !e.metaKey && !e.altKey;
    const inField = typing(e.target);
    let handled = true;
    if (key === 'F2' || (plain && !inField && (key === 'n' || key === 'N'))) this.ctx.newCall();
    else if (key === 'F3' || (plain && !inField && key === '/')) this.ctx.search();
    else if (key === 'F4' || ((e.ctrlKey || e.metaKey) && (key === 'k' || key === 'K'))) this.openCommand();
    else if (key === 'Escape') handled = this.escape(e);
    else if (plain && !inField && key === '?') this.openHelp();
    else if (plain && !inField && (key === 'a' || key === 'A')) this.ctx.ackAlert();
    else if (plain && !inField && (key === 'e' || key === 'E')) this.ctx.edit();
    else if (plain && !inField && (key === 'q' || key === 'Q')) this.ctx.focusQueue();
    else if (plain && (key === 'ArrowDown' || key === 'ArrowUp') && e.target instanceof Element && e.target.matches('#queue .qrow')) {
      this.moveInQueue(e.target, key === 'ArrowDown' ? 1 : -1);
    } else handled = false;
    // The key that opened a form is not typed into it, and F-keys do not reach the browser.
    if (handled) e.preventDefault();
  }

  /** Esc closes the topmost thing: the help, the command line, an open list, a panel. */
  escape(e) {
    if (this.help.open || this.cmd.dialog.open) return false; // the dialog closes itself
    // A combobox's open list closes first (calltake.js handles that key).
    if (this.listOpen) return false;
    return this.ctx.closeTop();
  }

  moveInQueue(row, step) {
    let next = step > 0 ? row.nextElementSibling : row.previousElementSibling;
    while (next && next.hidden) next = step > 0 ? next.nextElementSibling : next.previousElementSibling;
    if (next) {
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    }
  }

  // --- help ----------------------------------------------------------------------------

  buildHelp() {
    const dialog = h('dialog', { id: 'keys-help', class: 'keys-help', 'aria-labelledby': 'keys-help-title' });
    document.body.append(dialog);
    return dialog;
  }

  renderHelp() {
    this.help.replaceChildren(
      h('header', { class: 'panel-head' }, h('h2', { id: 'keys-help-title' }, t('keys.title')), h('button', { type: 'button', class: 'icon', 'aria-label': t('panel.close'), onclick: () => this.help.close() }, '×')),
      h('table', { class: 'grid keys' }, h('tbody', null, SHORTCUTS.map(([keys, what]) => h('tr', null, h('th', { scope: 'row' }, h('kbd', null, keys)), h('td', null, t(what)))))),
      h('h3', null, t('keys.commands')),
      h('ul', { class: 'cmd-usage' }, COMMANDS.map(([, usage]) => h('li', null, h('code', null, t(usage))))),
    );
  }

  openHelp() {
    this.renderHelp();
    if (!this.help.open) this.help.showModal();
  }

  // --- the command line ------------------------------------------------------------------

  buildCommandLine() {
    const input = h('input', { id: 'cmd-input', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'cmd-target cmd-out' });
    const target = h('small', { id: 'cmd-target', class: 'hint' });
    const out = h('p', { id: 'cmd-out', class: 'cmd-out', role: 'alert' });
    const caption = h('label', { for: 'cmd-input' });
    const form = h('form', { method: 'dialog', class: 'cmd-form' }, caption, input, target, out);
    const dialog = h('dialog', { id: 'cmd', class: 'cmd' }, form);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.run(input.value);
    });
    document.body.append(dialog);
    return { dialog, input, target, out, caption, busy: false };
  }

  openCommand() {
    const { dialog, input, target, out, caption } = this.cmd;
    caption.textContent = t('cmd.label');
    input.placeholder = t('cmd.placeholder');
    const id = this.ctx.incidentId();
    const inc = id && this.ctx.picture.incidents.get(id);
    target.textContent = id ? t('cmd.target', { id: id.slice(0, 8), what: inc ? `P${inc.priority} ${this.ctx.typeLabel(inc.type_code)}` : '' }) : t('cmd.no_target');
    out.textContent = '';
    out.className = 'cmd-out';
    if (!dialog.open) dialog.showModal();
    input.select();
    input.focus();
  }

  async run(line) {
    const { dialog, input, out } = this.cmd;
    if (this.cmd.busy) return;
    out.textContent = '';
    out.className = 'cmd-out';
    this.cmd.busy = true;
    input.setAttribute('aria-busy', 'true');
    try {
      const done = await this.execute(line.trim());
      if (done) this.ctx.info(done);
      input.value = '';
      dialog.close();
    } catch (err) {
      out.className = 'cmd-out error';
      out.textContent = err instanceof CommandError ? err.message : this.ctx.errorText(err, true);
    } finally {
      this.cmd.busy = false;
      input.removeAttribute('aria-busy');
    }
  }

  /** Runs one command; returns what to say when it worked, throws what went wrong. */
  async execute(line) {
    let [word = '', ...rest] = line.split(/\s+/);
    // "p1" is "p 1".
    const short = /^p([1-4])$/i.exec(word);
    if (short) [word, rest] = ['p', [short[1], ...rest]];
    const verb = fold(word);
    const command = COMMANDS.find(([verbs]) => verbs.includes(verb));
    if (!command) throw new CommandError(line ? t('cmd.unknown', { word }) : t('cmd.empty'));
    const name = command[0][0];
    if (name === 'open') return this.open(rest.join(' '));
    const incident = this.ctx.incidentId();
    if (!incident) throw new CommandError(t('cmd.no_target'));
    const usage = () => new CommandError(`${t('cmd.usage')}: ${t(command[1])}`);
    if (name === 'assign') {
      if (!rest.length) return this.assignRecommended(incident);
      const unit = this.unit(rest[0]);
      const reason = rest.slice(1).join(' ');
      if (!reason) throw new CommandError(t('cmd.reason_required', { unit: unit.call_sign }));
      await api(`/incidents/${incident}/assign`, { method: 'POST', body: { units: [unit.id], override_reason: reason, request_id: uuid() } });
      this.ctx.changed(incident);
      return t('cmd.assigned', { unit: unit.call_sign });
    }
    if (name === 'status') {
      if (rest.length < 2) throw usage();
      const unit = this.unit(rest[0]);
      const status = this.status(rest.slice(1).join(' '));
      await api(`/units/${unit.id}/status`, { method: 'POST', body: { status } });
      return t('cmd.status_set', { unit: unit.call_sign, status: label('status', status) });
    }
    if (name === 'note') {
      if (!rest.length) throw usage();
      await api(`/incidents/${incident}/notes`, { method: 'POST', body: { text: rest.join(' ') } });
      this.ctx.changed(incident);
      return t('detail.note_added');
    }
    if (name === 'priority') {
      const p = Number(String(rest[0] || '').replace(/^p/i, ''));
      if (![1, 2, 3, 4].includes(p)) throw usage();
      const current = await api(`/incidents/${incident}`);
      await api(`/incidents/${incident}`, { method: 'PATCH', body: { etag: current.incident.etag, priority: p } });
      this.ctx.changed(incident);
      return t('edit.saved');
    }
    if (name === 'close') {
      if (!rest.length) throw usage();
      await api(`/incidents/${incident}/close`, { method: 'POST', body: { resolution: rest.join(' ') } });
      this.ctx.changed(incident);
      return t('detail.closed_ok');
    }
    throw usage();
  }

  async assignRecommended(incident) {
    const rec = await api(`/incidents/${incident}/recommendation`);
    const units = (rec.candidates || []).filter((c) => c.selected).map((c) => c.unit);
    if (!units.length) throw new CommandError(t('cmd.nothing_recommended'));
    const reply = await api(`/incidents/${incident}/assign`, { method: 'POST', body: { units, request_id: uuid() } });
    this.ctx.changed(incident);
    return t('detail.assigned', { n: (reply.assignments || units).length });
  }

  open(words) {
    const q = fold(words);
    if (!q) throw new CommandError(`${t('cmd.usage')}: ${t('cmd.usage.open')}`);
    for (const inc of this.ctx.picture.incidents.values()) {
      if (inc.id.startsWith(q)) {
        this.ctx.openIncident(inc.id);
        return '';
      }
    }
    throw new CommandError(t('cmd.no_incident', { id: words }));
  }

  /** A unit by its call sign (any case), from the picture. */
  unit(callSign) {
    const wanted = fold(callSign);
    for (const u of this.ctx.picture.units.values()) if (fold(u.call_sign) === wanted) return u;
    throw new CommandError(t('cmd.no_unit', { unit: callSign }));
  }

  /** A status by its API name (on_scene) or the start of its label in either language. */
  status(text) {
    const q = fold(text).replace(/ /g, '_');
    const exact = UNIT_STATUSES.find((s) => fold(s) === q);
    if (exact) return exact;
    const words = fold(text);
    const byLabel = UNIT_STATUSES.filter((s) => fold(label('status', s)).startsWith(words));
    if (byLabel.length === 1) return byLabel[0];
    throw new CommandError(t('cmd.no_status', { status: text, all: UNIT_STATUSES.map((s) => label('status', s)).join(', ') }));
  }
}
