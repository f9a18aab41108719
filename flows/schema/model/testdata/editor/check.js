// Runs the YAML language server (the one VS Code's YAML extension runs) on
// flow files, as an editor would: its diagnostics, and its completion at
// each line that holds "#complete", its hover at each line that ends with
// "#hover". Usage:
//   node check.js SCHEMA FILE...   the schema set in the settings (yaml.schemas)
//   node check.js - FILE...        the schema named by the file's modeline
// Prints "FILE:LINE:COL: message", "FILE:LINE: complete: a b c" and
// "FILE:LINE: hover: text".
const fs = require('fs');
const path = require('path');
const { getLanguageService } = require('yaml-language-server/lib/umd/languageservice/yamlLanguageService');
const { TextDocument } = require('vscode-languageserver-textdocument');
const { URI } = require('vscode-uri');

const [schema, ...files] = process.argv.slice(2);
const ls = getLanguageService({
  schemaRequestService: async (uri) => fs.readFileSync(URI.parse(uri).fsPath, 'utf8'),
  workspaceContext: {
    resolveRelativePath: (rel, resource) =>
      URI.file(path.resolve(path.dirname(URI.parse(resource).fsPath), rel)).toString(),
  },
});
ls.configure({
  validate: true, completion: true, hover: true,
  schemas: schema === '-' ? [] : [{ uri: URI.file(path.resolve(schema)).toString(), fileMatch: ['*.yaml'] }],
});

(async () => {
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    const uri = URI.file(path.resolve(file)).toString();
    const lines = text.split('\n');
    const marks = [];
    lines.forEach((l, i) => { if (l.trim() === '#complete') marks.push(i); });
    // Validate the file without its markers (comments, harmless anyway).
    const doc = TextDocument.create(uri, 'yaml', 1, text);
    for (const d of await ls.doValidation(doc, false)) {
      console.log(`${file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`);
    }
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trimEnd().endsWith('#hover')) continue;
      const h = await ls.doHover(doc, { line: i, character: lines[i].search(/\S/) + 1 });
      const v = h && h.contents ? (h.contents.value || JSON.stringify(h.contents)) : '(none)';
      // Markdown: escapes dropped, spaces folded.
      console.log(`${file}:${i + 1}: hover: ` + v.replace(/\\(.)/g, '$1').replace(/\s+/g, ' '));
    }
    for (const i of marks) {
      const col = lines[i].search(/\S/);
      const edited = lines.slice();
      edited[i] = ' '.repeat(col);
      const d2 = TextDocument.create(uri, 'yaml', 2, edited.join('\n'));
      const list = await ls.doComplete(d2, { line: i, character: col }, false);
      console.log(`${file}:${i + 1}: complete: ` + list.items.map((x) => x.label).sort().join(' '));
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });
