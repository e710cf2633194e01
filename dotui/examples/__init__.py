"""The example objects bundled with dotui, shipped inside the package.

``OBJECTS`` is the objects folder of the bundled examples (one class per file, each teaching one idea: the
README's table). ``dotui`` opens on it when the folder it runs in has neither an ``objects/`` folder nor a
wrangler file, so an installed dotui has something to show anywhere; ``dotui tour`` runs its lessons on it.
"""

from __future__ import annotations

import os

OBJECTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "objects")
