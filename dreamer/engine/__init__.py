"""The dream itself: ``DreamModule`` (``module``), whose only parameter is the image, and its update
(``optim``), in four rooms: the network (``networks``), what to climb (``climb``), image maths
(``image``) and the run contract the data and the owner of the dream keep (``contract``)."""
