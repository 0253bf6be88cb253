// A small, self-contained renderer for this API's OpenAPI document: no CDN, no dependencies.
// Everything user- or server-provided is inserted with textContent, never as HTML.
"use strict";

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

const refName = (ref) => ref.split("/").pop();

function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.type === "array") return `${typeOf(schema.items)}[]`;
  return schema.type || "any";
}

function constraints(schema) {
  if (!schema) return "";
  const parts = [];
  for (const key of ["minimum", "maximum", "minLength", "maxLength", "pattern", "default"]) {
    if (schema[key] !== undefined) parts.push(`${key} ${JSON.stringify(schema[key])}`);
  }
  if (schema.anyOf) schema.anyOf.forEach((s) => { const c = constraints(s); if (c) parts.push(c); });
  return parts.join(", ");
}

function paramTable(params) {
  const table = el("table", {}, el("tr", {}, el("th", { text: "name" }), el("th", { text: "in" }),
    el("th", { text: "type" }), el("th", { text: "description" })));
  for (const p of params) {
    const schema = p.schema || {};
    table.append(el("tr", {},
      el("td", {}, el("code", { text: p.name + (p.required ? " *" : "") })),
      el("td", { text: p.in }),
      el("td", {}, el("code", { text: typeOf(schema) }), el("div", { class: "muted", text: constraints(schema) })),
      el("td", { text: p.description || schema.description || "" })));
  }
  return table;
}

function responsesTable(responses) {
  const table = el("table", {}, el("tr", {}, el("th", { text: "status" }), el("th", { text: "meaning" }), el("th", { text: "body" })));
  for (const [status, response] of Object.entries(responses || {})) {
    const content = response.content && response.content["application/json"];
    table.append(el("tr", {},
      el("td", {}, el("code", { text: status })),
      el("td", { text: response.description || "" }),
      el("td", {}, el("code", { text: content ? typeOf(content.schema) : "" }))));
  }
  return table;
}

function exampleFor(schema, doc, depth = 0) {
  if (!schema || depth > 6) return null;
  if (schema.$ref) return exampleFor(doc.components.schemas[refName(schema.$ref)], doc, depth + 1);
  if (schema.examples && schema.examples.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.anyOf) return exampleFor(schema.anyOf.find((s) => s.type !== "null"), doc, depth + 1);
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case "object": {
      const out = {};
      for (const [key, sub] of Object.entries(schema.properties || {})) {
        if ((schema.required || []).includes(key)) out[key] = exampleFor(sub, doc, depth + 1);
      }
      return out;
    }
    case "array": return [exampleFor(schema.items, doc, depth + 1)];
    case "integer": case "number": return schema.minimum || 1;
    case "boolean": return false;
    case "string": return schema.pattern ? "an-id" : "text";
    default: return null;
  }
}

function tryIt(method, path, op, doc) {
  const form = el("div", { class: "try" });
  const inputs = {};
  for (const p of op.parameters || []) {
    if (p.in === "header") continue;
    const example = p.example !== undefined ? p.example : (p.schema && p.schema.examples ? p.schema.examples[0] : "");
    const input = el("input", { type: "text", placeholder: `${p.name} (${p.in})`, "aria-label": p.name });
    if (p.in === "path" && example) input.value = example;
    inputs[p.name] = { param: p, input };
    form.append(input);
  }
  let body = null;
  const jsonBody = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (jsonBody) {
    body = el("textarea", { "aria-label": "request body" });
    body.value = JSON.stringify(exampleFor(jsonBody.schema, doc), null, 2);
    form.append(body);
  }
  const output = el("pre", { text: "" });
  const button = el("button", { type: "button", text: `Send ${method.toUpperCase()}` });
  button.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const { param, input } of Object.values(inputs)) {
      if (param.in === "path") url = url.replace(`{${param.name}}`, encodeURIComponent(input.value));
      else if (input.value !== "") query.append(param.name, input.value);
    }
    const target = new URL(url.replace(/^\//, ""), document.baseURI.replace(/docs\/?$/, ""));
    target.search = query.toString();
    const headers = {};
    const token = document.getElementById("token").value;
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method: method.toUpperCase(), headers };
    if (body) { headers["Content-Type"] = "application/json"; init.body = body.value; }
    output.textContent = "…";
    try {
      const response = await fetch(target, init);
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      const etag = response.headers.get("etag");
      output.textContent = `${response.status} ${response.statusText}${etag ? `  ETag: ${etag}` : ""}\n\n${shown}`;
    } catch (error) {
      output.textContent = `request failed: ${error}`;
    }
  });
  form.append(button, output);
  return form;
}

function render(doc) {
  document.title = doc.info.title;
  document.getElementById("title").textContent = doc.info.title;
  document.getElementById("summary").textContent = doc.info.summary || "";
  document.getElementById("description").textContent = doc.info.description || "";
  document.getElementById("version").textContent = `version ${doc.info.version} · OpenAPI ${doc.openapi}`;

  const toc = document.getElementById("toc");
  const main = document.getElementById("operations");
  main.replaceChildren();
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const tagInfo = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  for (const [tag, ops] of byTag) {
    main.append(el("h2", { text: tag }), el("p", { class: "muted", text: tagInfo.get(tag) || "" }));
    for (const { path, method, op } of ops) {
      const id = `${method}-${path}`.replace(/[^a-z0-9]+/gi, "-");
      toc.append(el("a", { href: `#${id}` }, el("span", { class: `method ${method}`, text: method }), ` ${path}`));
      const secured = (op.security || []).length > 0;
      const details = el("details", { class: "op", id },
        el("summary", {}, el("span", { class: `method ${method}`, text: method }),
          el("span", { class: "path", text: path }), el("span", { text: op.summary || "" }),
          secured ? el("span", { class: "lock", text: "needs bearer token" }) : null));
      const bodyDiv = el("div", { class: "op-body" });
      if (op.description) bodyDiv.append(el("p", { text: op.description }));
      if ((op.parameters || []).length) bodyDiv.append(el("h3", { text: "Parameters" }), paramTable(op.parameters));
      const jsonBody = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (jsonBody) bodyDiv.append(el("h3", {}, "Request body: ", el("code", { text: typeOf(jsonBody.schema) })));
      bodyDiv.append(el("h3", { text: "Responses" }), responsesTable(op.responses));
      bodyDiv.append(el("h3", { text: "Try it" }), tryIt(method, path, op, doc));
      details.append(bodyDiv);
      main.append(details);
    }
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries((doc.components && doc.components.schemas) || {})) {
    schemas.append(el("details", { class: "op", id: `schema-${name}` },
      el("summary", {}, el("code", { text: name }), el("span", { class: "muted", text: schema.description || "" })),
      el("div", { class: "op-body" }, el("pre", { text: JSON.stringify(schema, null, 2) }))));
  }
  // A link to #<operation or schema id> opens that operation.
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
}

document.getElementById("auth").addEventListener("submit", (event) => event.preventDefault());

fetch(new URL("openapi.json", document.baseURI.replace(/docs\/?$/, "")))
  .then((response) => {
    if (!response.ok) throw new Error(`openapi.json answered ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => {
    document.getElementById("operations").replaceChildren(el("p", { text: `Could not load the API description: ${error.message}` }));
  });
