"""The dream itself: the module whose only parameter is the image, its objective on a frozen network,
the typed batch and outline it is fed, the octave pyramid and the owner of the dream in progress."""
