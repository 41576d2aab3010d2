import { enableProdMode } from '@angular/core';
