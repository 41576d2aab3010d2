import { TestBed } from '@angular/core/testing';
