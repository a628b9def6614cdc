//! Message elements (`MsgBody` entries), kept whole.

use serde::{Deserialize, Serialize};

/// One element of a message body (`MsgBody` entry): its `MsgType` and its `MsgContent` kept as JSON.
///
/// Tencent defines a dozen element types (`TIMTextElem`, `TIMCustomElem`, `TIMImageElem`,
/// `TIMFaceElem`, ...) and adds more; this type keeps each as sent so that nothing is lost, and the same
/// value goes back unchanged in a replacement body ([`SendMsgAnswer::msg_body`](super::SendMsgAnswer)).
/// Fields other than these two are ignored. Numbers inside `MsgContent` keep their exact digits up to
/// 64 bits (`serde_json::Value`); a larger integer there may come back as a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MsgElement {
    /// `MsgType`: the element type, e.g. `TIMTextElem`.
    #[serde(rename = "MsgType")]
    pub msg_type: String,
    /// `MsgContent`: the element's content, as sent (`null` when absent, and then not serialized).
    #[serde(
        rename = "MsgContent",
        default,
        skip_serializing_if = "serde_json::Value::is_null"
    )]
    pub msg_content: serde_json::Value,
}

impl MsgElement {
    /// The type of a text element.
    pub const TEXT: &'static str = "TIMTextElem";

    /// An element of `msg_type` with `msg_content`.
    pub fn new(msg_type: impl Into<String>, msg_content: serde_json::Value) -> Self {
        MsgElement {
            msg_type: msg_type.into(),
            msg_content,
        }
    }

    /// A text element: `{"MsgType":"TIMTextElem","MsgContent":{"Text":text}}`.
    pub fn from_text(text: impl Into<String>) -> Self {
        MsgElement::new(MsgElement::TEXT, serde_json::json!({ "Text": text.into() }))
    }

    /// The text of a text element (`MsgContent.Text` of a `TIMTextElem`); `None` for any other element.
    pub fn as_text(&self) -> Option<&str> {
        if self.msg_type != MsgElement::TEXT {
            return None;
        }
        self.msg_content.get("Text")?.as_str()
    }
}
