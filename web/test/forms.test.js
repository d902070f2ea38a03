// The controls' input checks and export formats (web/src/forms.js).
// Run: `npm test --prefix web` (node --test); tests/unit/web/test_web_node_tests.py runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseParams, parseEnv, toCsv, toYaml, definitionOf } from "../src/forms.js";

test("parameters are a JSON object; empty text is {}", () => {
  assert.deepEqual(parseParams(""), { value: {}, error: null });
  assert.deepEqual(parseParams('{"corpus": "kb", "n": 3}').value, { corpus: "kb", n: 3 });
  assert.match(parseParams("[1]").error, /must be a JSON object, not a list/);
  assert.match(parseParams("42").error, /must be a JSON object, not number/);
  assert.match(parseParams("{corpus: kb}").error, /not valid JSON/);
});

test("environment overrides: KEY=value and secret references by name", () => {
  const { value, errors } = parseEnv(
    'LOG_LEVEL=debug\n\n# a comment\nOPENAI_API_KEY={secret: OPENAI_KEY_PROD}\nQ={"secret": "X"}\nEMPTY=',
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(value, {
    LOG_LEVEL: "debug",
    OPENAI_API_KEY: { secret: "OPENAI_KEY_PROD" },
    Q: { secret: "X" },
    EMPTY: "",
  });
});

test("a literal secret never passes: each bad line is named", () => {
  const { errors } = parseEnv(
    "OPENAI_API_KEY=sk-abcdefghijklmnopqrstuv\n1BAD=x\nnoequals\nA=1\nA=2\nB={secret: }\nAWS=AKIAABCDEFGHIJKLMNOP",
  );
  assert.deepEqual(errors, [
    "Environment line 1: OPENAI_API_KEY looks like a secret — never paste one: reference it by name, OPENAI_API_KEY={secret: NAME}",
    'Environment line 2: "1BAD" is not a variable name',
    "Environment line 3: expected KEY=value or KEY={secret: NAME}",
    "Environment line 5: A is set twice",
    "Environment line 6: B: a reference is written {secret: NAME}",
    "Environment line 7: AWS looks like a secret — never paste one: reference it by name, AWS={secret: NAME}",
  ]);
});

test("CSV quotes what needs quoting", () => {
  assert.equal(
    toCsv([
      ["id", "note"],
      ["r-1", 'say "hi", then\nleave'],
      ["r-2", null],
    ]),
    'id,note\r\nr-1,"say ""hi"", then\nleave"\r\nr-2,\r\n',
  );
});

test("YAML keeps every string a string", () => {
  const yaml = toYaml({
    pipeline: "rag",
    version: "1",
    steps: [
      { key: "no", depends_on: [] },
      { key: "b", depends_on: ["no"] },
    ],
    sla: { maxCostUsd: 1.5 },
  });
  assert.equal(
    yaml,
    [
      'pipeline: "rag"',
      'version: "1"',
      "steps:",
      '  - key: "no"',
      "    depends_on: []",
      '  - key: "b"',
      "    depends_on:",
      '      - "no"',
      "sla:",
      "  maxCostUsd: 1.5",
    ].join("\n"),
  );
});

test("a card's definition in the shape of pipeline.defined data", () => {
  const def = definitionOf({
    name: "rag",
    version: "2",
    owner: { id: "team:data", name: "team:data" },
    sla: null,
    steps: [
      { key: "a", kind: "llm", dependsOn: [], owner: null },
      { key: "b", dependsOn: [{ key: "a" }], owner: { id: "u:x" } },
    ],
  });
  assert.deepEqual(def, {
    pipeline: "rag",
    version: "2",
    owner: "team:data",
    steps: [
      { key: "a", kind: "llm", depends_on: [] },
      { key: "b", depends_on: ["a"], owner: "u:x" },
    ],
  });
});
