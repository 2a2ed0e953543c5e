//! What the optimizer knows about official base images: the tag to pin a floating reference
//! to, and how to add an unprivileged user on top of them.

use super::stages::ImageRef;

/// The pin for a floating (`:latest` or untagged) official image.
struct Pin {
    image: &'static str,
    /// The tag used when nothing in the stage says which distribution it needs.
    tag: &'static str,
    /// The tag used when the stage runs `apt-get`: moving such a stage to an Alpine variant
    /// would break its build, so it keeps a Debian-based one.
    debian_tag: &'static str,
}

const PINS: &[Pin] = &[
    Pin {
        image: "python",
        tag: "3.12-slim",
        debian_tag: "3.12-slim",
    },
    Pin {
        image: "node",
        tag: "20-alpine",
        debian_tag: "20-bookworm-slim",
    },
    Pin {
        image: "ubuntu",
        tag: "22.04",
        debian_tag: "22.04",
    },
    Pin {
        image: "debian",
        tag: "bookworm-slim",
        debian_tag: "bookworm-slim",
    },
    Pin {
        image: "alpine",
        tag: "3.19",
        debian_tag: "3.19",
    },
    Pin {
        image: "nginx",
        tag: "1.25-alpine",
        debian_tag: "1.25",
    },
    Pin {
        image: "golang",
        tag: "1.22-alpine",
        debian_tag: "1.22-bookworm",
    },
    Pin {
        image: "ruby",
        tag: "3.3-slim",
        debian_tag: "3.3-slim",
    },
    Pin {
        image: "eclipse-temurin",
        tag: "21-jre",
        debian_tag: "21-jre",
    },
    Pin {
        image: "maven",
        tag: "3.9-eclipse-temurin-21",
        debian_tag: "3.9-eclipse-temurin-21",
    },
    Pin {
        image: "rust",
        tag: "1.77-slim",
        debian_tag: "1.77-slim",
    },
    Pin {
        image: "redis",
        tag: "7.2-alpine",
        debian_tag: "7.2",
    },
    Pin {
        image: "postgres",
        tag: "16-alpine",
        debian_tag: "16",
    },
    Pin {
        image: "httpd",
        tag: "2.4-alpine",
        debian_tag: "2.4",
    },
];

/// The concrete tag for a floating official image, `None` when the image is not in the table
/// (the caller leaves a TODO instead of guessing a version).
pub(crate) fn pinned_tag(image: &ImageRef, stage_uses_apt: bool) -> Option<&'static str> {
    let name = image.official_name()?;
    let pin = PINS.iter().find(|pin| pin.image == name)?;
    Some(if stage_uses_apt {
        pin.debian_tag
    } else {
        pin.tag
    })
}

/// How to get an unprivileged user in a final stage built on a given image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserSetup {
    /// Create `app` with these commands, then `USER app`.
    Create { command: &'static str },
    /// The image already ships an unprivileged user of this name (node's `node`, distroless `nonroot`).
    Existing { user: String },
    /// No shell and no user database (`scratch`): a numeric uid still drops root.
    NumericOnly { user: &'static str },
    /// Setting a user would break the image; the reason says what to do instead.
    Unsuitable { reason: &'static str },
}

const DEBIAN_USERADD: &str =
    "groupadd --system app && useradd --system --gid app --no-create-home app";
const ALPINE_ADDUSER: &str = "addgroup -S app && adduser -S -G app app";

/// Images whose official tags are Debian- or Ubuntu-based unless the tag says alpine.
const DEBIAN_BASED: &[&str] = &[
    "debian",
    "ubuntu",
    "python",
    "node",
    "golang",
    "ruby",
    "eclipse-temurin",
    "openjdk",
    "maven",
    "gradle",
    "rust",
    "php",
    "perl",
    "redis",
    "postgres",
    "buildpack-deps",
];
/// Red Hat family images: they ship shadow-utils, so `useradd` works as on Debian.
const RHEL_BASED: &[&str] = &[
    "centos",
    "fedora",
    "rockylinux",
    "almalinux",
    "amazonlinux",
    "oraclelinux",
];
/// Servers whose master process must start as root to bind port 80 and drops privileges itself.
const ROOT_STARTING_SERVERS: &[&str] = &["nginx", "httpd", "haproxy"];

pub(crate) fn user_setup(image: &ImageRef) -> UserSetup {
    let tag = image.tag.as_deref().unwrap_or("");
    let base = image.base_name();
    if image.repository == "scratch" {
        return UserSetup::NumericOnly {
            user: "65534:65534",
        };
    }
    if image.repository.contains("distroless") {
        return UserSetup::Existing {
            user: "nonroot".into(),
        };
    }
    if ROOT_STARTING_SERVERS.contains(&base) {
        return UserSetup::Unsuitable {
            reason: "its master process starts as root to bind port 80 and drops privileges to its \
                     own worker user; use an unprivileged variant (e.g. nginxinc/nginx-unprivileged) \
                     to run without root",
        };
    }
    if image.official_name() == Some("node") {
        return UserSetup::Existing {
            user: "node".into(),
        };
    }
    if base == "alpine" || tag.contains("alpine") {
        return UserSetup::Create {
            command: ALPINE_ADDUSER,
        };
    }
    let is_rhel_minimal = base.contains("minimal") || tag.contains("minimal");
    if DEBIAN_BASED.contains(&base)
        || (!is_rhel_minimal && (RHEL_BASED.contains(&base) || base.starts_with("ubi")))
    {
        return UserSetup::Create {
            command: DEBIAN_USERADD,
        };
    }
    // Unknown distribution: a uid that exists nowhere still runs the process without root.
    UserSetup::NumericOnly {
        user: "10001:10001",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(reference: &str) -> ImageRef {
        ImageRef::parse(reference)
    }

    #[test]
    fn pins_follow_the_package_manager_of_the_stage() {
        assert_eq!(pinned_tag(&image("node"), false), Some("20-alpine"));
        assert_eq!(
            pinned_tag(&image("node:latest"), true),
            Some("20-bookworm-slim")
        );
        assert_eq!(
            pinned_tag(&image("library/python"), false),
            Some("3.12-slim")
        );
        assert_eq!(pinned_tag(&image("myorg/python"), false), None);
        assert_eq!(pinned_tag(&image("couchdb"), false), None);
    }

    #[test]
    fn user_setup_by_distribution() {
        assert_eq!(
            user_setup(&image("python:3.12-slim")),
            UserSetup::Create {
                command: DEBIAN_USERADD
            }
        );
        assert_eq!(
            user_setup(&image("alpine:3.19")),
            UserSetup::Create {
                command: ALPINE_ADDUSER
            }
        );
        assert_eq!(
            user_setup(&image("golang:1.22-alpine")),
            UserSetup::Create {
                command: ALPINE_ADDUSER
            }
        );
        assert_eq!(
            user_setup(&image("node:20-alpine")),
            UserSetup::Existing {
                user: "node".into()
            }
        );
        assert_eq!(
            user_setup(&image("gcr.io/distroless/static-debian12")),
            UserSetup::Existing {
                user: "nonroot".into()
            }
        );
        assert_eq!(
            user_setup(&image("scratch")),
            UserSetup::NumericOnly {
                user: "65534:65534"
            }
        );
        assert!(matches!(
            user_setup(&image("nginx:1.25-alpine")),
            UserSetup::Unsuitable { .. }
        ));
        assert_eq!(
            user_setup(&image("rockylinux:9")),
            UserSetup::Create {
                command: DEBIAN_USERADD
            }
        );
        assert_eq!(
            user_setup(&image("registry.access.redhat.com/ubi9/ubi-minimal")),
            UserSetup::NumericOnly {
                user: "10001:10001"
            }
        );
    }
}
