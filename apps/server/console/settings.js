// 本机设置: what differs from one window PC to the next, kept in this browser's localStorage:
// the service centre's name printed on notices and the ID-card reader's address.
import { t } from './i18n.js';
import { h } from './ui.js';
import { centreName, setCentreName } from './notices.js';
import { defaultReaderAddress, readerAddress, setReaderAddress } from './reader.js';

export function settingsPage(page) {
  const centre = h('input', { id: 'settings-centre', size: 30, value: localStorage.getItem('ov_centre_name') || '', placeholder: t('centre_default') });
  const reader = h('input', { id: 'settings-reader', size: 30, value: readerAddress(), placeholder: defaultReaderAddress, inputmode: 'url' });
  const message = h('div', { class: 'error-box', id: 'settings-message', role: 'status' });
  const save = (event) => {
    event.preventDefault();
    if (!setReaderAddress(reader.value)) {
      message.className = 'error-box';
      message.textContent = t('reader_address_invalid');
      reader.focus();
      return;
    }
    setCentreName(centre.value);
    reader.value = readerAddress();
    message.className = 'ok-box';
    message.textContent = `${t('settings_saved')}：${centreName()} · ${readerAddress()}`;
  };
  page(h('section', {}, h('h1', {}, t('settings')), h('p', { class: 'muted' }, t('settings_note')),
    h('form', { onsubmit: save, novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'settings-centre' }, t('centre_name')), centre),
      h('div', { class: 'field' }, h('label', { for: 'settings-reader' }, t('reader_address')), reader),
      h('div', { class: 'form-actions' }, h('button', { class: 'primary', type: 'submit', id: 'settings-save' }, t('save')), message))));
}
