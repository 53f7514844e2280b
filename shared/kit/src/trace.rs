//! W3C Trace Context: one trace from an HTTP request to every event it leads to, in
//! every service.
//!
//! Each service is one **hop** of a trace, with a span id of its own:
//!
//! - **An HTTP request** with a valid `traceparent` header continues that trace: same
//!   trace id and flags, a new span id for this hop, whose parent is the caller's span.
//!   A request without one, or with one that is not valid (wrong length, upper-case
//!   hex, an all-zero id, version `ff`, the header given twice), starts a new trace:
//!   a random trace id, a random span id, flags `01` (sampled).
//! - The hop's `traceparent` (`00-<trace id>-<this hop's span id>-<flags>`) is what the
//!   command's events carry in their `traceparent` extension, what the outbox puts in
//!   the NATS `traceparent` header, and what the answer returns in its own
//!   `traceparent` header, so that a client that sent none can still find its trace.
//!   (A replayed `Idempotency-Key` answer carries this request's hop, while the events
//!   keep the first run's.)
//! - **A consumer** (an inbox copying the event, a reaction to it) logs under the
//!   event's trace id; events a reaction appends continue the cause's trace with a new
//!   span id, as an HTTP hop does.
//!
//! The request's log span records the hop's `trace_id`, so every log line written
//! while the request runs names it (see [`init_tracing`](crate::init_tracing)).

use std::fmt;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header, on HTTP requests and answers as on NATS messages.
pub const TRACEPARENT: &str = "traceparent";

/// The flags of a trace this service starts: sampled.
const SAMPLED: u8 = 0x01;

/// A W3C `traceparent`: a trace id, the id of the span that is the parent of what
/// carries it, and the trace flags. Once you hold one it is valid: no all-zero id.
///
/// ```
/// use circlemade_kit::TraceParent;
///
/// let caller = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// let hop = caller.child();
/// assert_eq!(hop.trace_id(), caller.trace_id());
/// assert_ne!(hop.span_id(), caller.span_id());
/// assert!(hop.to_string().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
}

/// The 16-byte id shared by every span of a trace; displayed as 32 lower-case hex
/// digits, as in the header and in the logs' `trace_id` field.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// The 8-byte id of one span of a trace; displayed as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceParent {
    /// Reads a `traceparent` as W3C Trace Context writes it: `None` for anything else.
    ///
    /// Version `00` is exactly four fields; a later version is read by its first four
    /// fields (what the specification asks of a reader that does not know it), and
    /// continued as version `00`. Version `ff` is invalid.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let (version, rest) = (bytes.get(..2)?, bytes.get(2..)?);
        let version = hex::<1>(version)?[0];
        let fields = match version {
            0xff => return None,
            0x00 if rest.len() != 53 => return None,
            // A later version may append fields, after a '-'.
            _ if rest.len() < 53 || (rest.len() > 53 && rest[53] != b'-') => return None,
            _ => &rest[..53],
        };
        if fields[0] != b'-' || fields[33] != b'-' || fields[50] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&fields[1..33])?;
        let span_id = hex::<8>(&fields[34..50])?;
        let flags = hex::<1>(&fields[51..53])?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            flags,
        })
    }

    /// A new trace: random trace and span ids, sampled.
    pub fn start() -> Self {
        TraceParent {
            trace_id: TraceId(non_zero(rand::random)),
            span_id: SpanId(non_zero(rand::random)),
            flags: SAMPLED,
        }
    }

    /// The next hop of the same trace: same trace id and flags, a new random span id,
    /// whose parent is this one.
    pub fn child(&self) -> Self {
        TraceParent {
            span_id: SpanId(non_zero(rand::random)),
            ..*self
        }
    }

    /// The hop that follows `incoming` (a `traceparent` received, if any): its child
    /// when it is valid, else the start of a new trace.
    pub fn continue_or_start(incoming: Option<&str>) -> Self {
        match incoming.and_then(Self::parse) {
            Some(parent) => parent.child(),
            None => Self::start(),
        }
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The id of the span that is the parent of what carries this `traceparent`.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags (bit 0: sampled).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The hop of an HTTP request: `incoming`'s single `traceparent` header continued,
    /// or a new trace.
    pub fn of_request(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(TRACEPARENT).iter();
        // Given twice, the header is invalid: start a new trace.
        let single = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok(),
            _ => None,
        };
        Self::continue_or_start(single)
    }
}

/// Draws ids until one is not all zeros (which the specification forbids, and which a
/// random draw gives once in 2^64 at worst).
fn non_zero<const N: usize>(mut draw: impl FnMut() -> [u8; N]) -> [u8; N] {
    loop {
        let id = draw();
        if id != [0; N] {
            return id;
        }
    }
}

/// `2 * N` lower-case hex digits as `N` bytes.
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |digit: u8| match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

impl fmt::Display for TraceParent {
    /// Always version `00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The middleware that makes each request a hop of a trace: the hop goes into the
/// request's extensions (for the request's log span and [`CommandRequest`]) and into
/// the answer's `traceparent` header.
///
/// [`CommandRequest`]: crate::CommandRequest
pub(crate) async fn trace_requests(mut request: Request, next: Next) -> Response {
    let hop = TraceParent::of_request(request.headers());
    request.extensions_mut().insert(hop);
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&hop.to_string()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_reads_back_as_it_was_written() {
        let parsed = TraceParent::parse(CALLER).unwrap();
        assert_eq!(parsed.to_string(), CALLER);
        assert_eq!(
            parsed.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parsed.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(parsed.flags(), 1);
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert_eq!(TraceParent::parse(unsampled).unwrap().flags(), 0);
    }

    #[test]
    fn anything_but_a_valid_traceparent_is_refused() {
        for bad in [
            "",
            "00",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_later_version_is_read_by_its_first_four_fields_and_continued_as_version_00() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        let parsed = TraceParent::parse(later).unwrap();
        assert_eq!(parsed.to_string(), CALLER);
        assert!(TraceParent::parse(&later[..55]).is_some());
    }

    #[test]
    fn a_started_trace_is_sampled_with_fresh_ids_that_read_back() {
        let first = TraceParent::start();
        let second = TraceParent::start();
        assert_ne!(first.trace_id(), second.trace_id());
        assert_ne!(first.span_id(), second.span_id());
        assert_eq!(first.flags(), SAMPLED);
        let text = first.to_string();
        assert_eq!(text.len(), 55);
        assert_eq!(TraceParent::parse(&text), Some(first));
    }

    #[test]
    fn a_child_continues_the_trace_under_a_new_span() {
        let caller = TraceParent::parse(CALLER).unwrap();
        let hop = caller.child();
        assert_eq!(hop.trace_id(), caller.trace_id());
        assert_eq!(hop.flags(), caller.flags());
        assert_ne!(hop.span_id(), caller.span_id());
        assert_eq!(TraceParent::parse(&hop.to_string()), Some(hop));
    }

    #[test]
    fn a_hop_continues_a_valid_traceparent_and_starts_a_trace_otherwise() {
        let caller = TraceParent::parse(CALLER).unwrap();
        let continued = TraceParent::continue_or_start(Some(CALLER));
        assert_eq!(continued.trace_id(), caller.trace_id());
        assert_ne!(continued.span_id(), caller.span_id());
        for other in [None, Some("garbage")] {
            let started = TraceParent::continue_or_start(other);
            assert_ne!(started.trace_id(), caller.trace_id());
            assert_eq!(started.flags(), SAMPLED);
        }
    }

    #[test]
    fn a_request_continues_its_single_traceparent_header() {
        let caller = TraceParent::parse(CALLER).unwrap();
        let mut headers = HeaderMap::new();
        assert_ne!(
            TraceParent::of_request(&headers).trace_id(),
            caller.trace_id()
        );
        headers.insert(TRACEPARENT, HeaderValue::from_static(CALLER));
        assert_eq!(
            TraceParent::of_request(&headers).trace_id(),
            caller.trace_id()
        );
        headers.append(TRACEPARENT, HeaderValue::from_static(CALLER));
        assert_ne!(
            TraceParent::of_request(&headers).trace_id(),
            caller.trace_id(),
            "a header given twice is invalid"
        );
    }

    #[test]
    fn zero_ids_are_drawn_again() {
        let mut draws = [[0u8; 8], [0u8; 8], [7u8; 8]].into_iter();
        assert_eq!(non_zero(|| draws.next().unwrap()), [7u8; 8]);
    }
}
