#!/usr/bin/env python3
"""Each of the client's rules (app/src/state/tests.rs, the message row's
rendered-HTML tests) is shown able to fail: one line of the code behind it
is changed as a careless edit would, its test is run, the line restored.

    python3 scripts/client-rule-mutations.py [test name ...]

Prints FAILS (as it must) or PASSES! (the test cannot see that rule) per
rule, with the line changed. About 20 s a rule after the first build.
"""
import subprocess, sys, pathlib
ROOT = pathlib.Path(__file__).resolve().parent.parent
M = [
 ('a_resync_replaces_the_page', 'app/src/state/mod.rs',
  'self.replace_with(messages, seq);', 'self.merge_stream(messages);'),
 ('an_ack_never_moves_the_cursor', 'app/src/state/mod.rs',
  'self.merge([message]);\n                self.acked(client_id);', 'self.merge_stream(vec![message]);\n                self.acked(client_id);'),
 ('an_event_of_another_room_is_ignored', 'app/src/state/mod.rs',
  'for m in batch.into_iter().filter(|m| m.room == room) {', 'for m in batch.into_iter().filter(|m| m.room == room || m.room != room) {'),
 ('a_duplicate_delivery_shows_once', 'app/src/state/mod.rs',
  'map.insert(m.id, m);', 'map.insert(MessageId(m.id.0 * 1000 + map.len() as i64), m);'),
 ('an_edit_or_delete_of_a_message_not_yet_seen_is_applied_when_it_arrives', 'app/src/state/mod.rs',
  'if map.get(&m.id).is_none_or(|old| old.seq <= m.seq) {', 'if map.get(&m.id).is_none_or(|_old| true) {'),
 ('a_rate_limited_send_waits_and_keeps_its_place', 'app/src/state/outbox.rs',
  'f.paused = true;', 'f.paused = false;'),
 ('the_outbox_survives_a_reload_and_sends_each_message_once', 'app/src/state/outbox.rs',
  'if flow.in_flight.is_some() || flow.paused {', 'if flow.paused {'),
 ('resume_after_reconnect_asks_from_the_right_seq', 'app/src/state/mod.rs',
  '.update_value(|c| *c = Some(c.map_or(seq, |c| c.max(seq))));', '.update_value(|c| *c = Some(c.map_or(seq, |_c| seq)));'),
 ('an_answer_for_an_older_intent_never_replaces_a_newer_one', 'app/src/state/mod.rs',
  '} else if self.detached.get_untracked() {', '} else if false {'),
 ('a_plain_message_shows_its_author_and_text', 'app/src/components/conversation/message_row.rs',
  '<span class="text" class:jumbo=jumbo>{m.msg.clone()}</span>', '<span class="txt" class:jumbo=jumbo>{m.msg.clone()}</span>'),
 ('an_edited_message_says_so', 'app/src/components/conversation/message_row.rs',
  '{m.edited.then(|| view! { <span class="edited">"(edited)"</span> })}', '{false.then(|| view! { <span class="edited">"(edited)"</span> })}'),
 ('a_deleted_message_shows_no_text', 'app/src/components/conversation/message_row.rs',
  'class:deleted=m.deleted', 'class:deleted=false'),
 ('a_removed_message_says_a_moderator_removed_it', 'app/src/components/conversation/message_row.rs',
  'let gone = if m.removed {', 'let gone = if !m.removed {'),
 ('hostile_text_stays_text', 'app/src/components/conversation/message_row.rs',
  '<span class="text" class:jumbo=jumbo>{m.msg.clone()}</span>', '<span class="text" class:jumbo=jumbo inner_html=m.msg.clone()></span>'),
]
only = sys.argv[1:]
for test, f, old, new in M:
    if only and test not in only: continue
    p = ROOT / f
    orig = p.read_text()
    assert orig.count(old) == 1, (test, old)
    p.write_text(orig.replace(old, new))
    try:
        r = subprocess.run(['bash', '-c', f'source scripts/env.sh && cargo test -q -p app --features ssr --lib {test}'],
                           cwd=ROOT, capture_output=True, text=True)
    finally:
        p.write_text(orig)
    out = r.stdout + r.stderr
    failed = 'test result: FAILED' in out or ' FAILED' in out
    compiled = 'error[' not in out
    line = next((i + 1 for i, l in enumerate(orig.splitlines()) if old.splitlines()[0].strip() in l), '?')
    print(f"{'FAILS' if failed else ('NO-COMPILE' if not compiled else 'PASSES!')}\t{test}\t{f}:{line}\t`{old.splitlines()[0].strip()}` -> `{new.splitlines()[0].strip()}`", flush=True)
    if not compiled: print(out[-2000:])
