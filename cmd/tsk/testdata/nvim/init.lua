-- Drives Neovim's built-in LSP client on `tsk lsp`, headless: opens
-- $TSK_FILE, waits for its diagnostics, asks for the completions at
-- $TSK_LINE:0 (0-based) and writes what it got to $TSK_OUT, a line each.
local out = {}
local client = vim.lsp.start_client({ name = "tsk", cmd = { vim.env.TSK_BIN, "lsp" }, root_dir = vim.fn.getcwd() })
vim.cmd("edit " .. vim.env.TSK_FILE)
vim.lsp.buf_attach_client(0, client)
vim.wait(15000, function() return #vim.diagnostic.get(0) > 0 end, 50)
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(out, string.format("diagnostic %d:%d %s", d.lnum + 1, d.col + 1, d.message))
end
local params = { textDocument = vim.lsp.util.make_text_document_params(0), position = { line = tonumber(vim.env.TSK_LINE), character = 0 } }
local answers = vim.lsp.buf_request_sync(0, "textDocument/completion", params, 15000) or {}
for _, answer in pairs(answers) do
  local result = answer.result or {}
  for _, item in ipairs(result.items or result) do
    table.insert(out, "completion " .. item.label)
  end
end
vim.fn.writefile(out, vim.env.TSK_OUT)
vim.cmd("qa!")
