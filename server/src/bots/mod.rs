//! Bots at work: what other tools post (the bot API and Slack-style
//! incoming webhooks, `http::bots`) and what the chat sends out (a bot's
//! own webhook, called when it is mentioned or messaged directly).
//! Managing them is `chat::bots`.

pub mod slack;
pub mod webhook;
