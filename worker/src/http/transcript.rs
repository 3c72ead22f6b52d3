//! What one exchange sent and received, hop by hop, for the probe (`lv-master try`): the
//! requests as written on the wire and the responses' statuses and headers.

use bytes::Bytes;

use super::codec;
use super::request::OutRequest;

/// Every hop of one exchange (one, plus one per redirect followed), in order.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// The hops; the last one's response is the exchange's answer.
    pub hops: Vec<Hop>,
}

/// One request and what came back to it.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The request as written.
    pub request: SentRequest,
    /// The response's status and headers; `None` when none came (a transport error).
    pub response: Option<(u16, Vec<(String, String)>)>,
}

/// A request as it went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// Method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers in the order written, lv's own (`host`, `user-agent`, cookies, ...) included.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

impl SentRequest {
    /// The request `req` describes, with only the headers it gives (for one that could not
    /// be written, such as one with a bad URL).
    pub fn of(req: &OutRequest) -> SentRequest {
        SentRequest {
            method: req.method.to_string(),
            url: req.url.clone(),
            headers: req
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body: req.body.clone(),
        }
    }
}

impl Transcript {
    /// Notes `req`, written as `wire`, as the next hop.
    pub(super) fn sent(&mut self, req: &OutRequest, wire: &[u8]) {
        let mut request = SentRequest::of(req);
        request.headers = wire_headers(wire);
        self.hops.push(Hop {
            request,
            response: None,
        });
    }

    /// Notes the answer to the last hop.
    pub(super) fn received(&mut self, response: &codec::Response) {
        if let Some(hop) = self.hops.last_mut() {
            let headers = response
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            hop.response = Some((response.status, headers));
        }
    }
}

/// The headers of the request head at the start of `wire`, in order.
fn wire_headers(wire: &[u8]) -> Vec<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(wire) {
        Ok(httparse::Status::Complete(_)) => request
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_owned(), value)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_from_the_wire_in_order() {
        let wire = b"POST /v1/chat HTTP/1.1\r\nhost: a:1\r\nuser-agent: lv/1\r\ncookie: s=1\r\ncontent-length: 2\r\n\r\n{}";
        let headers = wire_headers(wire);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "user-agent", "cookie", "content-length"]);
        assert_eq!(headers[2].1, "s=1");
        assert!(wire_headers(b"GET / HTTP/1.1\r\nhost").is_empty());
    }
}
