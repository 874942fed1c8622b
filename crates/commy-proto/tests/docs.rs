//! docs/protocol.md shows every message, and every example in it decodes.

use commy_proto::*;
use std::collections::BTreeSet;

/// The JSON lines of the ```json blocks of docs/protocol.md.
fn examples() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let text = std::fs::read_to_string(path).expect("docs/protocol.md is readable");
    let mut in_json = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            example if in_json && !example.is_empty() => lines.push(example.to_owned()),
            _ => {}
        }
    }
    lines
}

#[test]
fn every_example_decodes_and_every_message_has_one() {
    let (mut requests, mut replies) = (BTreeSet::new(), BTreeSet::new());
    for example in examples() {
        let request = decode_request(example.as_bytes(), Encoding::Json);
        let reply = decode_reply(example.as_bytes(), Encoding::Json);
        assert!(
            request.is_ok() || reply.is_ok(),
            "{example}\n  as a request: {request:?}\n  as a reply: {reply:?}"
        );
        if let Ok(request) = request {
            requests.insert(request.message.type_name());
        }
        if let Ok(reply) = reply {
            check_typed_value(&reply.message, &example);
            replies.insert(reply.message.type_name());
        }
    }
    let all_requests: BTreeSet<_> = ClientMessage::TYPES.iter().copied().collect();
    let all_replies: BTreeSet<_> = ServerMessage::TYPES.iter().copied().collect();
    assert_eq!(
        all_requests.difference(&requests).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "requests without an example"
    );
    assert_eq!(
        all_replies.difference(&replies).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "replies without an example"
    );
}

/// A reply's `value`, when present, is what its `data` reads as under some type.
fn check_typed_value(message: &ServerMessage, example: &str) {
    let (data, value) = match message {
        ServerMessage::VariableData(v) => (&v.data, &v.value),
        ServerMessage::VariableChanged(v) => (&v.data, &v.value),
        _ => return,
    };
    if let Some(value) = value {
        let fits = ValueType::ALL
            .iter()
            .any(|ty| ty.decode(data).ok().flatten().as_ref() == Some(value));
        assert!(fits, "`value` does not match `data` under any type: {example}");
    }
}
