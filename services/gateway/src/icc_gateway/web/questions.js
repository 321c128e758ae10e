// The key questions of the chosen type (GET /key-questions), answered on the call form.
// What the answers call for follows the incidents service's rule (questions.py): the most
// urgent priority any answer calls for, the type the last type-setting answer names (in
// question order), and every instruction for the caller, in question order.
import { api } from './api.js';
import { h } from './dom.js';
import { lang, t } from './i18n.js';

export class KeyQuestions {
  /** @param section the form's questions section; ctx: {onChange(), errorText(err)} */
  constructor(section, ctx) {
    this.section = section;
    this.ctx = ctx;
    this.cache = new Map(); // type code -> questions
    this.typeCode = null;
    this.questions = [];
    this.answers = new Map(); // question id -> option value
    this.error = null;
    this.loading = null;
  }

  /** The questions of `typeCode` (null: none); answers to questions still asked are kept. */
  async setType(typeCode) {
    this.typeCode = typeCode;
    this.error = null;
    if (!typeCode) {
      this.questions = [];
      this.answers.clear();
      this.render();
      return;
    }
    let questions = this.cache.get(typeCode);
    if (!questions) {
      const loading = api(`/key-questions?type_code=${encodeURIComponent(typeCode)}`);
      this.loading = loading;
      try {
        questions = (await loading).questions || [];
        this.cache.set(typeCode, questions);
      } catch (err) {
        if (this.loading !== loading) return;
        this.error = err;
        questions = [];
      }
      if (this.loading !== loading || this.typeCode !== typeCode) return;
      this.loading = null;
    }
    this.questions = questions;
    const asked = new Set(questions.map((q) => q.id));
    for (const id of [...this.answers.keys()]) if (!asked.has(id)) this.answers.delete(id);
    this.render();
    this.ctx.onChange();
  }

  /** The answers as the API takes them, in question order. */
  body() {
    return this.questions.filter((q) => this.answers.has(q.id)).map((q) => ({ question: q.id, answer: this.answers.get(q.id) }));
  }

  chosenOptions() {
    const out = [];
    for (const q of this.questions) {
      const value = this.answers.get(q.id);
      const option = value != null && q.options.find((o) => o.value === value);
      if (option) out.push(option);
    }
    return out;
  }

  /** {priority: 1-4 | null, typeCode: '' | code, instructions: [text]} the answers call for. */
  outcome() {
    const chosen = this.chosenOptions();
    const priorities = chosen.map((o) => o.priority).filter((p) => p != null);
    const types = chosen.map((o) => o.type_code).filter(Boolean);
    const en = lang() === 'en';
    return {
      priority: priorities.length ? Math.min(...priorities) : null,
      typeCode: types.length ? types[types.length - 1] : '',
      instructions: chosen.map((o) => (en ? o.instruction_en || o.instruction_vi : o.instruction_vi)).filter(Boolean),
    };
  }

  clear() {
    this.answers.clear();
    this.setType(null);
  }

  render() {
    const s = this.section;
    if (!this.typeCode || (!this.questions.length && !this.error)) {
      s.hidden = true;
      s.replaceChildren();
      return;
    }
    const en = lang() === 'en';
    const parts = [h('h3', { id: 'cf-questions-title' }, t('calltake.questions'))];
    if (this.error) parts.push(h('p', { class: 'field-error', role: 'alert' }, `${this.ctx.errorText(this.error)} ${t('calltake.questions_failed')}`));
    this.questions.forEach((q, i) => {
      const name = `cf-kq-${i}`;
      parts.push(
        h(
          'fieldset',
          { class: 'question', dataset: { question: q.id } },
          h('legend', null, en ? q.text_en : q.text_vi),
          h(
            'div',
            { class: 'options' },
            q.options.map((o, j) => {
              const id = `${name}-${j}`;
              const input = h('input', { type: 'radio', id, name, value: o.value, checked: this.answers.get(q.id) === o.value });
              input.addEventListener('change', () => {
                this.answers.set(q.id, o.value);
                this.renderInstructions();
                this.ctx.onChange();
              });
              return h('label', { for: id, class: o.priority != null ? `calls-p${o.priority}` : '' }, input, en ? o.label_en : o.label_vi, o.priority != null ? [' ', h('span', { class: `badge p${o.priority}` }, `P${o.priority}`)] : null);
            }),
          ),
        ),
      );
    });
    if (this.questions.length) {
      parts.push(
        h('button', { type: 'button', class: 'small', onclick: () => this.clearAnswers() }, t('calltake.questions_clear')),
        h('div', { id: 'cf-instructions', class: 'instructions', role: 'status', 'aria-live': 'assertive' }),
      );
    }
    s.replaceChildren(...parts);
    s.hidden = false;
    this.renderInstructions();
  }

  clearAnswers() {
    this.answers.clear();
    this.render();
    this.ctx.onChange();
  }

  renderInstructions() {
    const box = this.section.querySelector('#cf-instructions');
    if (!box) return;
    const { instructions } = this.outcome();
    box.replaceChildren(...(instructions.length ? [h('strong', null, t('calltake.instructions')), h('ul', null, instructions.map((x) => h('li', null, x)))] : []));
    box.hidden = !instructions.length;
  }

  relabel() {
    this.render();
  }
}
