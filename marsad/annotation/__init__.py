"""Round trips with annotation tools: Label Studio, brat and doccano (``marsad export`` /
``marsad import``)."""
