from photocap.cli import main

raise SystemExit(main())
