// Starts `tsk lsp` for .tsk files: the language server does the work
// (internal/lsp in the repository); this only connects VS Code to it.
const { workspace } = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

exports.activate = function () {
  const command = workspace.getConfiguration('tusk').get('path') || 'tsk';
  client = new LanguageClient('tusk', 'TuskLang', { command, args: ['lsp'] }, {
    documentSelector: [{ scheme: 'file', language: 'tusk' }],
  });
  return client.start();
};

exports.deactivate = function () {
  return client ? client.stop() : undefined;
};
