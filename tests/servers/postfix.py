"""The private Postfix of the routing and notice tests: it lives in skylift.demo.postfix, so
``skylift demo`` runs the same on-prem MTA the tests do."""

from skylift.demo.postfix import PostfixInstall, PostfixServer, find_install, start

__all__ = ["PostfixInstall", "PostfixServer", "find_install", "start"]
