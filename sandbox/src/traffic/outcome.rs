//! What the traffic sends and how each request ended, as the client sees it.

use reqwest::StatusCode;

/// The agent endpoints the traffic exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Optimize,
    Analyze,
    Health,
}

impl Endpoint {
    /// The `endpoint` label value of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Optimize => "optimize",
            Endpoint::Analyze => "analyze",
            Endpoint::Health => "health",
        }
    }

    /// The request line's method and path, e.g. `POST /optimize`.
    pub fn request_line(self) -> &'static str {
        match self {
            Endpoint::Optimize => "POST /optimize",
            Endpoint::Analyze => "POST /analyze",
            Endpoint::Health => "GET /health",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Optimize => "/optimize",
            Endpoint::Analyze => "/analyze",
            Endpoint::Health => "/health",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 1xx-3xx.
    Success,
    /// 4xx other than 429: the request's fault, not the agent's, so not an error of the service.
    ClientError,
    /// 429: the agent shed load, which a user experiences as a failure.
    RateLimited,
    /// 5xx.
    ServerError,
    /// No complete answer within the per-request timeout.
    Timeout,
    /// Connection refused, reset, DNS failure, broken body.
    ConnectionError,
    /// Not sent: the client already had the maximum number of requests in flight.
    Overload,
}

impl Outcome {
    /// The outcome of a request that got a complete answer with `status`.
    pub fn from_status(status: StatusCode) -> Outcome {
        if status == StatusCode::TOO_MANY_REQUESTS {
            Outcome::RateLimited
        } else if status.is_server_error() {
            Outcome::ServerError
        } else if status.is_client_error() {
            Outcome::ClientError
        } else {
            Outcome::Success
        }
    }

    /// Whether a user of the agent would count this request as failed.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Success | Outcome::ClientError)
    }

    /// The `outcome` label value of the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectionError => "connection_error",
            Outcome::Overload => "overload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_a_user_would_see_are_errors() {
        assert!(!Outcome::from_status(StatusCode::OK).is_error());
        assert!(!Outcome::from_status(StatusCode::BAD_REQUEST).is_error());
        assert!(!Outcome::from_status(StatusCode::NOT_FOUND).is_error());
        assert!(Outcome::from_status(StatusCode::TOO_MANY_REQUESTS).is_error());
        assert!(Outcome::from_status(StatusCode::INTERNAL_SERVER_ERROR).is_error());
        assert!(Outcome::from_status(StatusCode::SERVICE_UNAVAILABLE).is_error());
        assert!(Outcome::Timeout.is_error());
        assert!(Outcome::ConnectionError.is_error());
        assert!(Outcome::Overload.is_error());
    }
}
