#!/usr/bin/env python3
"""Renders chat templates with Python jinja2 exactly as transformers' apply_chat_template does, and
writes testdata/golden/chat-templates.json, the truth quire-jinja's tests compare against byte for byte.

The environment mirrors transformers.utils.chat_template_utils._compile_jinja_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker,
loopcontrols]), tojson overridden to json.dumps(ensure_ascii=False, ...), globals raise_exception and
strftime_now. strftime_now reads a fixed time (FIXED_NOW) so the goldens are reproducible; the Java test
uses a Clock fixed at the same instant.

Usage: python3 tools/oracle/chat_template_goldens.py   (from the repository root; needs jinja2 >= 3.1)
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXED_NOW = datetime(2024, 7, 26, 9, 5, 3)


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker without the index tracking: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def real_template(name):
    with open(os.path.join(ROOT, "testdata", "tokenizers", name, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    return cfg["chat_template"], cfg.get("bos_token"), cfg.get("eos_token")


# A reduced Llama 3.1 template: date_string / strftime_now, tools in the first user message, tool calls.
LLAMA31 = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- if tools_in_user_message and not tools is none %}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# Mistral-style [INST] template: strict user/assistant alternation enforced with raise_exception.
MISTRAL_INST = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

# Llama-2-style template: <<SYS>> folded into the first user turn, alternation check, .strip().
LLAMA2_INST = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

# Hand-written: whitespace control, comments, raw, macros, call blocks, namespaces, loop variables,
# break/continue, filters, tests, slicing, dict iteration, generation tags.
FEATURES = r"""{#- A template that exercises the language, not a model. -#}
{% macro render_role(role, upper=false) -%}
    {%- if upper %}{{ role | upper }}{% else %}{{ role | capitalize }}{% endif -%}
{%- endmacro %}
{% macro box(title) -%}
[{{ title }}: {{ caller() | trim }}]
{%- endmacro %}
{% set ns = namespace(count=0, roles=[], last_user=none) %}
{% for m in messages %}
    {% set ns.count = ns.count + 1 %}
    {% set ns.roles = ns.roles + [m.role] %}
    {% if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}
{% endfor %}
messages={{ messages | length }} counted={{ ns.count }} roles={{ ns.roles | unique | list | join(',') }} last_user={{ ns.last_user }}
{% for m in messages if m.role != 'system' %}
  {{ loop.index }}/{{ loop.length }} {{ render_role(m.role, upper=loop.first) }}{% if loop.last %} (last){% endif %}: {{ m.content | trim | replace('\n', ' ') }}
  {%- if m.tool_calls is defined %} calls={{ m.tool_calls | map(attribute='function.name') | join('|') }}{% endif %}

{% else %}
  (no non-system messages)
{% endfor %}
{% for m in messages[::-1] %}
{% if loop.index > 2 %}{% break %}{% endif %}
{% if m.content is not string %}{% continue %}{% endif %}
rev{{ loop.index0 }}={{ m.role }}:{{ m.content[:12] }}{{ '...' if m.content | length > 12 else '' }}
{% endfor %}
{% call box('summary') %}
   {{ messages | selectattr('role', 'equalto', 'user') | list | length }} user turn(s),
   {{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }}
{% endcall %}

{% raw %}{{ not rendered }} {% if %}{% endraw %}
{% set info = {'model': 'quire', 'version': 1.5, 'tags': ['a', 'b'], 'ok': true, 'none': none} %}
{% for k, v in info.items() %}{{ k }}={{ v }}{{ ', ' if not loop.last }}{% endfor %}

{{ info | tojson }}
{{ info | tojson(indent=2) }}
{% if tools %}
tools: {% for t in tools %}{{ t.function.name }}{% if not loop.last %}, {% endif %}{% endfor %}
{% endif %}
{%- generation %}
gen: {{ (messages | last).content | default('none', true) }}
{% endgeneration %}
{{ add_generation_prompt and 'PROMPT' or 'NO PROMPT' }}
"""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city — with unicode: °C",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {"name": "search", "description": "Search the web", "parameters": {"type": "object", "properties": {}}},
    },
]

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CONVERSATIONS = {
    "user_only": [{"role": "user", "content": "Hello!"}],
    "system_user": [SYSTEM, {"role": "user", "content": "What is 2+2?"}],
    "multi_turn": [
        SYSTEM,
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke.\nA short one."},
    ],
    "assistant_last": [
        {"role": "user", "content": "Say yes."},
        {"role": "assistant", "content": "Yes."},
    ],
    "unicode": [
        {"role": "user", "content": "Héllo 👋 — 日本語 \"quotes\" 'single' \\ back\ttab"},
        {"role": "assistant", "content": "Ça va? 😀 «ok» \u00a0nbsp"},
        {"role": "user", "content": "Ελληνικά ✓"},
    ],
    "empty_content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "   "},
    ],
    "padded": [
        {"role": "system", "content": "  \n System with spaces \n\n"},
        {"role": "user", "content": "\n\n  question  \n"},
    ],
    "think_history": [
        {"role": "user", "content": "What is 1+1?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n2"},
        {"role": "user", "content": "And 2+2?"},
        {"role": "assistant", "content": "<think>\nAgain simple.\n</think>\n\n4"},
    ],
    "reasoning_content": [
        {"role": "user", "content": "Why is the sky blue?"},
        {"role": "assistant", "content": "Rayleigh scattering.", "reasoning_content": "\nThink about optics.\n"},
    ],
    "tool_calls": [
        SYSTEM,
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}},
                {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Tokyo\"}"}},
            ],
        },
        {"role": "tool", "content": "{\"temp\": 21}"},
        {"role": "tool", "content": "{\"temp\": 27}"},
        {"role": "assistant", "content": "Paris is 21°C, Tokyo 27°C."},
    ],
    "single_tool_call": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}],
        },
        {"role": "tool", "content": "sunny, 21.5"},
    ],
    "tool_response_in_user": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "<tool_response>\nresult\n</tool_response>"},
    ],
    "not_alternating": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
    "none_content": [
        {"role": "user", "content": "call a tool"},
        {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": {}}}]},
    ],
}

TEMPLATE_EXTRAS = {
    "llama3": [{}],
    "qwen3": [{}, {"tools": TOOLS}, {"enable_thinking": False}],
    "llama31": [{}, {"tools": TOOLS}, {"date_string": "01 Jan 2025"}, {"tools": TOOLS, "tools_in_user_message": False}],
    "mistral_inst": [{}],
    "llama2_inst": [{}],
    "features": [{}, {"tools": TOOLS}],
}


def error_record(e):
    kind = "raise_exception" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
    return {"error": kind, "message": str(e)}


def main():
    env = make_env()
    llama3, l3_bos, l3_eos = real_template("llama3")
    qwen3, q3_bos, q3_eos = real_template("qwen3")
    templates = {
        "llama3": (llama3, l3_bos, l3_eos),
        "qwen3": (qwen3, q3_bos, q3_eos),
        "llama31": (LLAMA31, "<|begin_of_text|>", "<|eot_id|>"),
        "mistral_inst": (MISTRAL_INST, "<s>", "</s>"),
        "llama2_inst": (LLAMA2_INST, "<s>", "</s>"),
        "features": (FEATURES, "<s>", "</s>"),
    }
    cases = []
    for tname, (source, bos, eos) in templates.items():
        compiled = env.from_string(source)
        for conv_name, messages in CONVERSATIONS.items():
            for extra in TEMPLATE_EXTRAS[tname]:
                for agp in (True, False):
                    # transformers passes the special tokens map (only tokens that are set) and kwargs.
                    kwargs = {}
                    if bos is not None:
                        kwargs["bos_token"] = bos
                    if eos is not None:
                        kwargs["eos_token"] = eos
                    kwargs.update(extra)
                    tools = kwargs.pop("tools", None)
                    case = {
                        "template": tname,
                        "conversation": conv_name,
                        "add_generation_prompt": agp,
                        "extra": dict(kwargs, **({"tools": tools} if tools is not None else {})),
                    }
                    try:
                        case["output"] = compiled.render(
                            messages=messages, tools=tools, documents=None, add_generation_prompt=agp, **kwargs
                        )
                    except Exception as e:  # noqa: BLE001 - errors are goldens too
                        case.update(error_record(e))
                    cases.append(case)

    snippets = []
    for source, context in SNIPPETS:
        rec = {"source": source, "context": context}
        try:
            rec["output"] = env.from_string(source).render(**context)
        except Exception as e:  # noqa: BLE001
            rec.update(error_record(e))
        snippets.append(rec)

    out = {
        "generator": "tools/oracle/chat_template_goldens.py",
        "jinja2_version": jinja2.__version__,
        "strftime_now": FIXED_NOW.isoformat(),
        "templates": {k: {"source": v[0]} for k, v in templates.items()},
        "conversations": CONVERSATIONS,
        "cases": cases,
        "snippets": snippets,
    }
    path = os.path.join(ROOT, "testdata", "golden", "chat-templates.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum(1 for c in cases if "error" in c)
    print(f"wrote {path}: {len(cases)} cases ({errors} errors), {len(snippets)} snippets")


D = {"a": 1, "b": [1, 2, 3], "s": "Hello World", "n": None, "e": "", "f": 2.5, "t": True, "u": "ünï 😀"}
M = [{"role": "user", "content": "x", "n": 3}, {"role": "assistant", "content": "y", "n": 1}, {"role": "user", "content": "z", "n": 2}]

# (template, context): small expressions whose Python rendering pins down the semantics.
SNIPPETS = [
    ("{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}", {}),
    ("{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1.5e-7 }}|{{ 123456789.125 }}|{{ -0.0 }}", {}),
    ("{{ 3 * 'ab' }}|{{ 'ab' * 2 }}|{{ [1] * 3 }}|{{ 'a' ~ 1 ~ none ~ true }}|{{ [1, 2] + [3] }}", {}),
    ("{{ true }}|{{ none }}|{{ [1, 'a', none, true, 2.0] }}|{{ {'a': 1, 'b': 'x'} }}|{{ (1, 2) }}|{{ (1,) }}|{{ () }}", {}),
    ("{{ \"it's\" }}|{{ ['it\\'s', \"q\\\"d\", 'both\\'\"', 'nl\\n', 'tab\\t', 'bs\\\\'] }}", {}),
    ("{{ ['é', '日本', '\\x00', '\\u200b', '😀'] }}", {}),
    ("{{ 'a\\tb\\\\n\\x41\\u00e9\\101' }}", {}),
    ("{{ d.a }}|{{ d['b'][1] }}|{{ d.b[-1] }}|{{ d.b[5] }}|{{ d.missing }}|{{ d.s[0] }}|{{ d.s[-1] }}", {"d": D}),
    ("{{ d.b[::-1] }}|{{ d.b[1:] }}|{{ d.b[:-1] }}|{{ d.s[::2] }}|{{ d.s[-5:] }}|{{ d.b[::-2] }}|{{ d.u[::-1] }}|{{ d.u[1:3] }}", {"d": D}),
    ("{{ d.n is none }}|{{ d.missing is defined }}|{{ d.missing is undefined }}|{{ d.a is number }}|{{ d.t is number }}|{{ d.t is boolean }}|{{ d.f is float }}|{{ d.a is integer }}", {"d": D}),
    ("{{ d is mapping }}|{{ d.b is sequence }}|{{ d.s is sequence }}|{{ d.s is iterable }}|{{ d.a is iterable }}|{{ d.s is string }}|{{ d.b is string }}|{{ d.missing is iterable }}", {"d": D}),
    ("{{ 3 is odd }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}|{{ 'a' is in 'abc' }}|{{ 2 is in [1, 2] }}|{{ 1 is eq 1.0 }}|{{ 'x' is lower }}|{{ 'X' is upper }}", {}),
    ("{{ 'ab' in 'cabd' }}|{{ 'z' not in 'abc' }}|{{ 1 in [1, 2] }}|{{ 'a' in {'a': 1} }}|{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}", {}),
    ("{{ not 0 }}|{{ not '' }}|{{ not [] }}|{{ not {} }}|{{ not none }}|{{ not 'a' }}|{{ not 0.0 }}|{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' and 'z' }}|{{ none or [] }}", {}),
    ("{{ 'yes' if d.t else 'no' }}|{{ 'yes' if d.n else 'no' }}|{{ 'a' if false }}|{{ d.a if d.a > 0 else -d.a }}", {"d": D}),
    ("{{ '  x  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hello' | length }}|{{ d.u | length }}|{{ d | length }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello wORLD' | capitalize }}", {"d": D}),
    ("{{ 'hello world-foo(bar)baz [x]y <z>w' | title }}|{{ \"they're bill's o'neil\" | title }}|{{ \"they're bill's\".title() }}|{{ 'hello wORLD 2nd'.title() }}", {}),
    ("{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ [1, 2, 3] | join(', ') }}|{{ ['a', 'b'] | join }}|{{ m | join('/', attribute='role') }}", {"m": M}),
    ("{{ [3, 1, 2] | first }}|{{ [3, 1, 2] | last }}|{{ 'abc' | first }}|{{ [] | first }}|{{ d.missing | default('dflt') }}|{{ '' | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ none | default('x') }}", {"d": D}),
    ("{{ 'abc' | list }}|{{ d | list }}|{{ 42 | string }}|{{ '42' | int + 1 }}|{{ '4.7' | int }}|{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ 3.9 | int }}|{{ '2.5' | float }}|{{ 'bad' | float }}|{{ 2 | float }}", {"d": D}),
    ("{{ d | items | list }}|{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.values() | list | length }}|{{ d.get('a') }}|{{ d.get('zz') }}|{{ d.get('zz', 5) }}", {"d": {"x": 1, "y": [2]}}),
    ("{{ m | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ m | rejectattr('role', 'eq', 'user') | map(attribute='n') | list }}|{{ m | selectattr('n') | list | length }}", {"m": M}),
    ("{{ [0, 1, 2, '', 'a', none] | select | list }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('even') | list }}|{{ [1, 5, 10] | select('gt', 2) | list }}", {}),
    ("{{ ['B', 'a', 'b', 'A', 'c'] | unique | list }}|{{ ['B', 'a', 'b', 'A'] | unique(case_sensitive=true) | list }}|{{ ['b', 'A', 'c'] | sort }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ m | sort(attribute='n') | map(attribute='content') | join }}", {"m": M}),
    ("{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}|{{ ['x', 'y'] | map('upper') | list }}|{{ [1, 2] | map('string') | join('-') }}|{{ [-1, 2] | map('abs') | list }}", {}),
    ("{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(first=true, blank=true) }}|{{ 'x\\ny' | indent('> ') }}", {}),
    ("{{ '<a href=\"x\">&\\'</a>' | escape }}|{{ '<b>' | e }}|{{ '<b>' | safe }}", {}),
    ("{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ [] | tojson }}|{{ {} | tojson(indent=4) }}|{{ 'é\"\\n' | tojson }}|{{ d | tojson(sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}", {"d": D}),
    ("{{ d | tojson(ensure_ascii=true) }}|{{ [1.0, 2.5e-10, 1e100, -3] | tojson }}|{{ {'k': {'n': [1, {'m': none}]}} | tojson(indent='\\t') }}", {"d": D}),
    ("{{ x | tojson }}", {}),
    ("{{ 'Hello'.startswith('He') }}|{{ 'Hello'.startswith(('x', 'H')) }}|{{ 'Hello'.endswith('lo') }}|{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ '\\n\\nA\\n'.strip('\\n') }}", {}),
    ("{{ 'a,b,,c'.split(',') }}|{{ ' a  b\\tc\\n'.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'x</think>y</think>z'.split('</think>')[-1] }}|{{ '  a b  '.split(None, 1) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}", {}),
    ("{{ 'hello'.replace('l', 'L') }}|{{ 'hello'.upper() }}|{{ 'HeLLo'.lower() }}|{{ 'hello'.find('l') }}|{{ 'hello'.find('z') }}|{{ 'hello'.rfind('l') }}|{{ 'hello'.count('l') }}|{{ '-'.join(['a', 'b']) }}|{{ 'hello'.capitalize() }}", {}),
    ("{{ '{} and {}'.format('a', 1) }}|{{ '{0}{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='hi') }}|{{ '%s is %d' | format('x', 3) }}|{{ '%s-%s' % ('a', 'b') }}", {}),
    ("{% set x = 1 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i * 10 %}{% endfor %}{{ x }}", {}),
    ("{% for i in [1, 2] %}{% if i == 1 %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}", {}),
    ("{% set ns = namespace(v=0, items=[]) %}{% for i in range(5) %}{% set ns.v = ns.v + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.v }} {{ ns.items }}", {}),
    ("{% for i in range(10) %}{% if i is even %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for a, b in [(1, 'x'), (2, 'y')] %}{{ a }}{{ b }}{{ loop.index }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }};{% endfor %}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1, 2, 3] if x > 5 %}x{% else %}none-matched{% endfor %}", {}),
    ("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }};{% endfor %}", {}),
    ("{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ y }}{{ loop.depth }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("{% macro m(a, b=2) %}{{ a }}-{{ b }}-{{ varargs }}-{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, b=4) }}|{{ m(1, 2, 3) }}|{{ m(a=5) }}", {}),
    ("{% macro g() %}{{ top }}{% endmacro %}{% set top = 'T' %}{{ g() }}", {}),
    ("{% set s %}  block {{ 1 + 1 }}  {% endset %}[{{ s }}]|{% set t | upper %}abc{% endset %}{{ t }}", {}),
    ("{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}|{{ a }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = 1, 2 %}{{ t }}", {}),
    ("{{ [1, 2, 3] | sum }}|{{ m | sum(attribute='n') }}|{{ [3, 1, 2] | max }}|{{ ['b', 'A'] | min }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ 2.7 | round(0, 'floor') }}|{{ -3 | abs }}", {"m": M}),
    ("{{ {'b': 1, 'a': 2} | dictsort }}|{{ [1, 2, 3, 4, 5] | batch(2) | list }}|{{ 'one two  three' | wordcount }}|{{ 'x' | center(5) }}|", {}),
    ("{{ range(3) | list }}|{{ range(1, 10, 3) | list }}|{{ dict(a=1) }}|{{ 'abc'[1:] }}|{{ [1, 2][0:1] }}", {}),
    ("{{ raise_exception('Custom error: ' ~ 42) }}", {}),
    ("{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y') }}|{{ strftime_now('%d %b %Y') }}", {}),
    ("{{ [1, 2].append(3) }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ none.attr }}|{{ d.n.attr is defined }}", {"d": D}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ missing + 1 }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ d.x.y }}", {"d": {}}),
    ("{{ 1 / 0 }}", {}),
    ("{% for %}", {}),
    ("{{ 'unclosed }}", {}),
    ("{% if true %}no end", {}),
    ("{{ foo(1) }}", {}),
    ("{% set x.y = 1 %}", {"x": {}}),
    ("  {% if true %}\n    indented\n  {% endif %}\n{%- if true %}  X  {%+ if true %}Y{% endif %}\n{% endif %}\n  {# comment #}\n  {{ 'var' }}\n  {%- raw %} raw {%- endraw %}\n", {}),
    ("a\n{% if true -%}\n   b   \n{%- endif %}\nc {{- ' d ' -}} e\n\n", {}),
    ("line1\r\nline2\r{{ 'x' }}\n", {}),
    ("{{ '{' }}{{ {'a': {'b': 1}}['a'] }}{{ {'a': [1, {'c': 2}]}.a[1].c }}", {}),
    ("{% if not x is defined or x is none %}A{% endif %}{% if x is not none %}B{% endif %}", {"x": None}),
    ("{{ messages[0]['content'] if messages else 'none' }}|{{ messages | length - 1 }}|{{ -messages | length }}", {"messages": M}),
    ("{%- for m in messages %}{{- m.role ~ ':' ~ m.content }}\n{% endfor -%}", {"messages": M}),
    ("{{ 0x1F }}|{{ 1_000 }}|{{ 0o17 }}|{{ 0b101 }}|{{ 1.5e3 }}|{{ 10 // 3.0 }}|{{ -7.5 % 2 }}", {}),
    ("{{ x }}|{{ y }}|{{ z }}|{{ w }}", {"x": 12345678901234, "y": 1.25, "z": [1.0, {"k": None}], "w": False}),
    # Edge cases: undefined, whitespace control, method/item precedence, unicode whitespace.
    ("{{ u ~ 'x' }}|{{ u | length }}|{{ u | trim }}|{{ u | list }}|{{ u | join }}|{{ u | upper }}|{{ u | items | list }}|{{ u | default(none) }}|{{ u is none }}", {}),
    ("{{ u | tojson }}", {}),
    ("{{ u | first }}|{% for x in u %}x{% else %}empty{% endfor %}|{{ 'a' in u }}|{{ u == u }}|{{ u != none }}", {}),
    ("{{ u + 'x' }}", {}),
    ("{{ u[0] }}", {}),
    ("{{ u() }}", {}),
    ("{{ d.items is callable }}|{{ d.items()|list }}", {"d": {"items": "value"}}),
    ("{{ d['items'] }}|{{ d.get('get') }}|{{ d['keys'] is callable }}|{{ d.keys is callable }}", {"d": {"items": "value", "get": 7}}),
    ("{{ '\u00a0\u2003x\u3000' | trim }}|{{ '\u00a0x\u00a0'.strip() }}|{{ '\u200bx'.strip() }}|{{ 'a\u00a0b'.split() }}", {}),
    ("{{ 1, 2 }}|{{ [1, 2, ] }}|{{ {'a': 1, } }}|{{ ('a') }}|{{ (('a', 'b')) }}", {}),
    ("{{ 'x' if true else 'y' if true else 'z' }}|{{ 1 if 0 else 2 if 0 else 3 }}|{{ not true == false }}|{{ -2 ** 2 }}|{{ (-2) ** 2 }}|{{ 2 ** 3 ** 2 }}", {}),
    ("{{ 1 + 2 * 3 - 4 / 2 }}|{{ 'a' ~ 1 + 2 }}|{{ 10 - 2 - 3 }}|{{ 2 * 3 % 4 }}|{{ 7 // 2 * 2 }}|{{ 1 - -1 }}|{{ +3 }}", {}),
    ("{{ [1, 2] == [1, 2] }}|{{ (1, 2) == [1, 2] }}|{{ {'a': 1} == {'a': 1.0} }}|{{ none == none }}|{{ 'a' != 'b' }}|{{ 1 in [1.0] }}|{{ [1] in [[1]] }}", {}),
    ("{% macro outer(x) %}<{{ caller(x * 2) }}>{% endmacro %}{% call(v) outer(21) %}got {{ v }}{% endcall %}", {}),
    ("{% macro m(a, b=a ~ '!') %}{{ b }}{% endmacro %}{{ m('hi') }}|{{ m }}|{{ m is callable }}", {}),
    ("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c }}{{ ns.c is defined }}", {}),
    ("{% for m in msgs %}{% if m.role == 'user' %}{% set last = m.content %}{% endif %}{% endfor %}[{{ last }}]", {"msgs": M}),
    ("{% for x in [1, 2, 3] if x != 2 %}{{ loop.index }}/{{ loop.length }}{{ '' if loop.last else ',' }}{% endfor %}", {}),
    ("{%- for x in [1, 2] -%}\n  {{ x }}\n{%- endfor -%}\n!", {}),
    ("{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\n!", {}),
    ("  {%+ if true %}keep{% endif %}\n  {#- strip -#}  \n  {# c #}\nafter", {}),
    ("a  {%- if true %} b {% endif -%}  c\n    {{- 'd' }}  {{ 'e' -}}   \n  f", {}),
    ("\t\t{% if true %}\n\t\tx\n\t\t{% endif %}\n", {}),
    ("{% if true %}a{% endif %}\n\n{% if false %}b{% else %}c{% endif %}\nend\n\n", {}),
    ("{% raw %}\n  {{ x }}\n{% endraw %}\n{%- raw -%}  y  {%- endraw %}z", {}),
    ("{{ 'a' }}{# multi\nline\ncomment #}{{ 'b' }}\n{#- x #}\n  c", {}),
    ("{{ 'ab\\\ncd' }}|{{ \"\\\"\\'\" }}|{{ 'x\\N{BULLET}y' }}|{{ 'a\\qb' }}|{{ '\\u00e9' == 'é' }}", {}),
    ("{{ 'a b'.split(' ', -1) }}|{{ ' a b '.rsplit() }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.split('abc') }}|{{ ''.split() }}|{{ ''.split(',') }}", {}),
    ("{{ 'hello world'.title() }}|{{ 'hELLO 3rd-party'.title() }}|{{ 'ǆemal'.title() }}|{{ 'ß'.upper() }}|{{ 'İ'.lower() | length }}", {}),
    ("{{ 'abcabc'.count('bc') }}|{{ 'aaaa'.count('aa') }}|{{ 'abc'.find('c', 1) }}|{{ 'abc'.startswith('b', 1) }}|{{ 'a-b'.partition('-') }}|{{ 'x'.zfill(3) }}", {}),
    ("{{ [1, 'a'] | join(', ') }}|{{ [none, true] | join }}|{{ {'x': 1, 'y': 2} | join('+') }}|{{ 'abc' | join('.') }}", {}),
    ("{{ {'b': 1, 'a': 2} | first }}|{{ {'b': 1, 'a': 2} | last }}|{{ 'héllo' | last }}|{{ [[1, 2], [3]] | last | first }}", {}),
    ("{{ m | map(attribute='missing') | list }}|{{ m | map(attribute='missing', default='D') | list }}|{{ m | map(attribute='n') | max }}|{{ m | selectattr('role', 'in', ['assistant']) | list | length }}", {"m": M}),
    ("{{ [{'a': {'b': 2}}, {'a': {'b': 1}}] | sort(attribute='a.b') | map(attribute='a.b') | list }}|{{ [[2, 'x'], [1, 'y']] | sort(attribute='0') }}|{{ ['b', 'B', 'a'] | sort(case_sensitive=true) }}", {}),
    ("{{ 3 | string ~ 4 }}|{{ 3.0 | int }}|{{ true | int }}|{{ none | int }}|{{ '0x1A' | int(0, 16) }}|{{ ' 12 ' | int }}|{{ '1e3' | float }}|{{ '-inf' | float }}|{{ 'nan' | float }}", {}),
    ("{{ d | tojson(indent=0) }}|{{ [[]] | tojson(indent=1) }}|{{ {'a': []} | tojson(indent=2) }}|{{ {1: 'int', none: 'n', true: 't', 2.5: 'f'} | tojson }}", {"d": {"a": [1]}}),
    ("{{ '\\x01\\x1f\\x7f\\u2028\\ud7ff' | tojson }}|{{ '\\x01\\x7f\\u2028' | tojson(ensure_ascii=true) }}|{{ 1e-7 | tojson }}|{{ 12345678901234567890.0 | tojson }}", {}),
    ("{{ (1, 'a') | tojson }}|{{ [1, 2] | tojson(separators=(',', '=')) }}|{{ {'z': 1, 'a': {'y': 2, 'b': 3}} | tojson(sort_keys=true, indent=1) }}", {}),
    ("{{ 0.1 * 3 }}|{{ 1 / 3 }}|{{ 2 / 3 }}|{{ 100.0 }}|{{ 1e22 }}|{{ 1.7976931348623157e308 }}|{{ 5e-324 }}|{{ 123456789012345678 }}|{{ 0.5 + 0.25 }}", {}),
    ("{{ 9999999999999998.0 }}|{{ 1234567890123456.7 }}|{{ 0.001 }}|{{ 0.00012 }}|{{ 3 * 1.1 }}|{{ 10 / 4 }}|{{ 10 // 4.0 }}|{{ -0.5 | round }}|{{ 1.5 | round }}|{{ 2.675 | round(2) }}", {}),
    ("{{ x.content.startswith('<tool_response>') and x.content.endswith('</tool_response>') }}", {"x": {"content": "<tool_response>r</tool_response>"}}),
    ("{{ x.content.startswith('a') }}", {"x": {"content": None}}),
    ("{{ x.content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}", {"x": {"content": "<think>\n\nplan\n\n</think>\n\nanswer"}}),
    ("{% set x = [1, 2] %}{% set y = x %}{{ x is sameas y }}|{{ none is sameas none }}|{{ 1 is sameas 1 }}", {}),
    ("{% for a, b in {'k': 'v'}.items() %}{{ a }}{{ b }}{% endfor %}|{% for a, b in [[1, 2]] %}{{ a + b }}{% endfor %}", {}),
    ("{% for a, b in [[1, 2, 3]] %}{{ a }}{% endfor %}", {}),
    ("{% for x in 5 %}{{ x }}{% endfor %}", {}),
    ("{{ 'abc'[5] }}|{{ [1][3] }}|{{ {'a': 1}['b'] }}|{{ none['x'] }}", {}),
    ("{{ [1, 2, 3, 4, 5][1:-1:2] }}|{{ 'hello'[::-1][1:3] }}|{{ [1, 2, 3][-10:10] }}|{{ [1, 2, 3][5:] }}|{{ (1, 2, 3)[1:] }}|{{ [1, 2, 3][none:2] }}", {}),
    ("{{ messages[-1].content }}|{{ messages[0:2] | map(attribute='n') | sum }}|{{ (messages | length) - 1 }}|{{ messages|length - 1 }}", {"messages": M}),
    ("{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}{% set messages = messages[1:] %}{% endif %}{{ messages | length }}{{ sys }}", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]}),
    ("{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", {}),
    ("{% if true %}{{ raise_exception('inside ' ~ [1, 'two']) }}{% endif %}", {}),
    ("{{ strftime_now('%-d %B %Y, %H:%M') }}|{{ strftime_now('%e|%c|%x|%X|%%|%w|%u') }}", {}),
    ("{% set d = {'a': 1} %}{% set d2 = dict(d, b=2) %}{{ d2 }}|{{ d.update }}|{{ d.pop is defined }}|{{ d.copy() }}", {}),
    ("{{ [3, 1, 2].sort() }}", {}),
    ("{{ d._private }}", {"d": {"_private": 1}}),
    ("{% generation %}g{{ 1 }}{% endgeneration %}|{{ joiner is defined }}|{{ range is callable }}", {}),
    ("{% do x %}", {}),
    ("{% for x in [1] recursive %}{{ x }}{% endfor %}", {}),
    ("{% for n in tree recursive %}<{{ n.name }}@{{ loop.depth }}{% if n.kids %}{{ loop(n.kids) }}{% endif %}>{% endfor %}",
     {"tree": [{"name": "a", "kids": [{"name": "b", "kids": [{"name": "c"}]}, {"name": "d"}]}, {"name": "e"}]}),
    ("{% include 'x' %}", {}),
]

if __name__ == "__main__":
    main()
